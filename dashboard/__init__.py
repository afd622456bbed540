"""The Streamlit dashboard (``app.py`` routes to it), split by feature: ``explorer``,
``compare``, ``classify``, and what they share (``plotting``, ``measuring``, ``text``). Logic is
plain Python returning frames and figures, testable without a browser; layout calls Streamlit.
"""
