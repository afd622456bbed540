"""Text for the pages: untrusted text (an upload's file name, a URL value) made safe to show with
``st.markdown``, ``st.error`` and friends, which render Markdown (it reads as typed, never as a
link, an image the browser would fetch, a heading or a formula); and counts in words."""

from __future__ import annotations

import re

# Markdown's punctuation, Streamlit's ``$`` (LaTeX) and ``:`` (emoji shortcodes and colored text)
_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:&])")


def escape_markdown(text: object, max_chars: int = 200) -> str:
    """``text`` with every Markdown-special character escaped, newlines as spaces, cut to
    ``max_chars``.

    >>> escape_markdown("![x](http://evil/x.png) **b** $x$")
    '\\\\!\\\\[x\\\\]\\\\(http\\\\://evil/x\\\\.png\\\\) \\\\*\\\\*b\\\\*\\\\* \\\\$x\\\\$'
    """
    flat = " ".join(str(text).split())
    if len(flat) > max_chars:
        flat = flat[: max_chars - 1] + "…"
    return _SPECIAL.sub(r"\\\1", flat)


def plural(count: int, word: str) -> str:
    """``1 model``, ``3 models``.

    >>> plural(1, "model"), plural(3, "point"), plural(0, "model")
    ('1 model', '3 points', '0 models')
    """
    return f"{count} {word}" + ("" if count == 1 else "s")


__all__ = ["escape_markdown", "plural"]
