"""Streamlit entry point: `streamlit run app.py --server.fileWatcherType none`."""
import streamlit as st

from app_pages.common import start_session

st.set_page_config(page_title="JiT unlearning playground", layout="wide")
start_session()  # once per session: memory that ended sessions freed goes back to the system

pages = [
    st.Page("app_pages/playground.py", title="Playground", url_path="playground", default=True),
    st.Page("app_pages/compare.py", title="Compare methods", url_path="compare"),
    st.Page("app_pages/images.py", title="Images", url_path="images"),
    st.Page("app_pages/geometry.py", title="Geometry of forgetting", url_path="geometry"),
    st.Page("app_pages/audit.py", title="Forgetting audit", url_path="audit"),
]
st.navigation(pages).run()
