"""Streamlit entry point: `streamlit run app.py --server.fileWatcherType none`."""
import streamlit as st

st.set_page_config(page_title="JiT unlearning playground", layout="wide")

pages = [st.Page("pages/playground.py", title="Playground", default=True)]
st.navigation(pages).run()
