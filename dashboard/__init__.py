"""The Streamlit dashboard: explorer, compare and classify pages (``app.py`` routes to them).

Page modules (``*_page.py``) hold layout only; the logic they display is plain Python in
``state.py`` (URL state), ``tables.py`` (pandas frames) and ``figures.py`` (plotly figures), each
testable without streamlit. The explorer page imports neither torch, timm nor the zoo.
"""
