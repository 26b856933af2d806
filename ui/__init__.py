"""The app's one small UI helper package: plain functions that build Plotly figures (no Streamlit)."""
