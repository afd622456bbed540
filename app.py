"""effscale dashboard: routing, page setup and layout only (``streamlit run app.py``).

The pages live in ``dashboard/``; each imports what it needs lazily, so opening the explorer
never imports torch.
"""

from __future__ import annotations

import streamlit as st

from dashboard.classify import page as classify_page
from dashboard.compare import page as compare_page
from dashboard.explorer import page as explorer_page

st.set_page_config(page_title="effscale: EfficientNet scaling explorer", layout="wide")

page = st.navigation(
    [
        # The explorer opens at the root and answers at /explorer too (a shared link, a habit):
        # the second page is the same one, kept out of the menu.
        st.Page(explorer_page.render, title="Explorer", url_path="home", default=True),
        st.Page(explorer_page.render, title="Explorer", url_path="explorer", visibility="hidden"),
        st.Page(compare_page.render, title="Compare", url_path="compare"),
        st.Page(classify_page.render, title="Classify", url_path="classify"),
    ]
)
page.run()
