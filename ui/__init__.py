"""The app's plain parts, below the Streamlit pages (``app_pages/``); nothing here imports Streamlit.

    ui/state/   state and controllers: they compute (train, unlearn, evaluate, build tables)
    ui/views/   figure builders: they only draw the arrays and tables they are given

Dependencies point one way: app_pages -> ui.views -> ui.state -> unlearn_core -> toy_data.
"""
