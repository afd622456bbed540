"""Classify page: upload images, pick models with real ImageNet weights, see top-5 per model.

Sample photos and the camera serve a visitor with no photo at hand; beside each result is a
Grad-CAM overlay, labelled an explanation aid. Why every upload is decoded server-side by
``zoo.classify.images.decode_image`` whatever the browser's filter let through: an upload is
untrusted, and a bad one shows its own error while the others are classified. The zoo is imported
inside the functions that need it. More: docs/evaluate.md, 'Sample photos and the camera';
docs/reliability.md, 'Hostile and random input'.
"""

from __future__ import annotations

import time

import streamlit as st

from dashboard.classify import figures as classify_figures
from dashboard.text import escape_markdown
from data.samples import sample_photos

KEY = "classify_"
#: Models offered, in order. Those without weights on this machine are listed with how to get them.
CANDIDATE_MODELS: tuple[str, ...] = (
    "tf_efficientnet_lite0",
    "tf_efficientnet_lite1",
    "tf_efficientnet_lite2",
    "tf_efficientnet_lite3",
    "tf_efficientnet_lite4",
    "efficientnet_b0",
    "efficientnet_b1",
    "efficientnet_b2",
    "efficientnet_b3",
    "tf_efficientnet_b0",
    "tf_efficientnet_b3",
)
# MIME types, not extensions: the browser's file picker still filters on them, but Streamlit then
# skips its own server-side extension check, which (in 1.67) raises before the script runs and
# fails the whole session on a forged name. The real check is ours: every upload is decoded with
# an explicit format list and a pixel cap, and a bad file is an inline error for that file only.
UPLOAD_TYPES = ("image/jpeg", "image/png", "image/webp", "image/gif", "image/bmp", "image/tiff")
MAX_UPLOAD_MB = 10
#: Phrases of ``zoo.how_to_get_weights``: timm has hub weights for the model; offline mode.
_HUB_HINT = "download timm's weights"
_OFFLINE_HINT = "HF_HUB_OFFLINE is set"


@st.cache_data(show_spinner=False, ttl=300)
def weights_table() -> tuple[tuple[str, str | None, str], ...]:
    """(model, weights description or None, how to get weights) for every candidate."""
    from zoo import available_weights, how_to_get_weights

    rows = []
    for name in CANDIDATE_MODELS:
        try:
            source = available_weights(name)
        except Exception as exc:  # noqa: BLE001 - an unknown model must not break the page
            rows.append((name, None, f"unavailable: {exc}"))
            continue
        if source is not None:
            rows.append((name, source.description, ""))
        else:
            rows.append((name, None, how_to_get_weights(name)))
    return tuple(rows)


def source_name(description: str) -> str:
    """A weights description without its parenthesised details (file name, digest)."""
    return description.split(" (")[0]


def weights_notes(table: tuple[tuple[str, str | None, str], ...]) -> str:
    """The expander's Markdown: every model once, every instruction once (the zoo's how-to
    text repeats its shared advice for each model)."""
    have = [(name, source) for name, source, _ in table if source is not None]
    hub = [name for name, source, how in table if source is None and _HUB_HINT in how]
    other = [(name, how) for name, source, how in table if source is None and name not in hub]
    parts = []
    if have:
        parts.append(
            "**Weights here:**\n"
            + "\n".join(f"- **{name}**: {source_name(source)}" for name, source in have)
        )
    if hub:
        example = hub[0]
        parts.append(
            f"**No weights here yet:** {', '.join(hub)}. timm publishes ImageNet weights for "
            "them: fill the Hugging Face cache once on this machine while it is online (here "
            f"for {example}), then reload this page."
        )
        parts.append(
            f"```bash\n.venv/bin/python -c \"import timm; timm.create_model('{example}', "
            'pretrained=True)"\n```'
        )
        if any(_OFFLINE_HINT in how for _, _, how in table):
            parts.append("The dashboard runs with HF_HUB_OFFLINE set: it never downloads them.")
    if other:
        parts.append("\n".join(f"- {name}: {how}" for name, how in other))
    return "\n\n".join(parts)


@st.cache_resource(show_spinner=False, max_entries=3)
def _classifier(model_name: str):
    import io

    from PIL import Image

    from zoo import get_classifier

    classifier = get_classifier(model_name)
    # One untimed forward pass: the first call pays one-time kernel set-up (hundreds of ms on
    # CPU), which would otherwise be reported as the first image's latency.
    blank = io.BytesIO()
    Image.new("RGB", (64, 64), (128, 128, 128)).save(blank, format="PNG")
    classifier.classify([blank.getvalue()], top_k=1)
    return classifier


def render() -> None:
    st.title("Classify images")
    st.caption(
        "EfficientNets with real ImageNet weights on this machine, each with its own "
        "preprocessing; the crop a model sees is shown beside its result.",
        help="Resize, centre crop and mean/std come from each model's pretrained config.",
    )
    try:
        table = weights_table()
    except ImportError as exc:
        st.error(f"Classification is not available: {exc}")
        return
    available = [name for name, source, _ in table if source is not None]
    with st.expander(
        f"{len(available)} of {len(table)} models have weights here; how to get the others"
    ):
        st.markdown(weights_notes(table))
    if not available:
        st.error("No model has ImageNet weights on this machine; see the list above.")
        return
    default = [m for m in ("tf_efficientnet_lite0",) if m in available] or available[:1]
    models = st.multiselect("Models", available, default=default, key=KEY + "models")
    uploads = st.file_uploader(
        "Images (JPEG, PNG, WebP, GIF, BMP, TIFF)",
        type=list(UPLOAD_TYPES),
        accept_multiple_files=True,
        key=KEY + "upload",
        max_upload_size=MAX_UPLOAD_MB,
    )
    images = [(upload.name, upload.getvalue(), None) for upload in uploads or ()]
    images += _camera_and_samples()
    show_cam = st.toggle(
        "Show where each model looks (Grad-CAM)",
        value=True,
        key=KEY + "cam",
        help="A class-activation map of the top class over the crop the model sees: which "
        "regions raised that class's score. An explanation aid, not ground truth.",
    )
    if not images:
        st.info(
            "Upload one or more images to classify them, take a photo with the camera, or "
            "try the sample photos."
        )
        return
    if not models:
        st.warning("Pick at least one model.")
        return

    loaded = {}
    for name in models:
        try:
            with st.spinner(f"Loading {name}…"):
                loaded[name] = _classifier(name)
        except Exception as exc:  # noqa: BLE001 - NoWeightsError, ZooError: say it, go on
            st.error(f"{name}: cannot load ({exc})")
    if not loaded:
        return

    for position, (filename, raw, credit) in enumerate(images):
        _show_image(position, filename, raw, loaded, show_cam, credit)


def _toggle_samples() -> None:
    st.session_state[KEY + "samples_on"] = not st.session_state.get(KEY + "samples_on", False)


def _camera_and_samples() -> list[tuple[str, bytes, str | None]]:
    """(name, bytes, credit) of a camera photo and of the sample photos, when asked for."""
    images: list[tuple[str, bytes, str | None]] = []
    samples_on = st.session_state.get(KEY + "samples_on", False)
    left, right = st.columns(2)
    with left:
        st.button(
            "Hide the sample photos"
            if samples_on
            else "No photo at hand? Classify the sample photos",
            key=KEY + "samples",
            on_click=_toggle_samples,
            help="Public-domain and CC0 photos bundled with effscale (data/photos/photos.csv "
            "lists author, licence and source).",
        )
    with right:
        camera_on = st.toggle("Take a photo with the camera", key=KEY + "camera_on")
    if camera_on:
        shot = st.camera_input("Camera", key=KEY + "camera")
        if shot is not None:
            images.append(("camera photo", shot.getvalue(), None))
    if samples_on:
        for photo in sample_photos():
            try:
                images.append((photo.file, photo.path.read_bytes(), photo.credit))
            except OSError as exc:  # a broken installation: say so, show the others
                st.error(f"sample photo {photo.file} cannot be read ({exc.strerror})")
    return images


def _show_image(
    position: int, filename: str, raw: bytes, loaded: dict, show_cam: bool, credit: str | None
) -> None:
    from zoo import ImageError, decode_image

    st.divider()
    shown = escape_markdown(filename)  # an upload's name: shown as typed, never as Markdown
    st.markdown(f"#### {shown}")
    try:
        image = decode_image(raw)  # server-side validation: format list + pixel cap
    except ImageError as exc:
        st.error(f"{shown}: {exc}")
        return
    except Exception as exc:  # noqa: BLE001 - any decoder failure is this image's problem
        st.error(f"{shown}: cannot decode this image ({type(exc).__name__})")
        return
    # The photo on the left; on the right each model's result as a full-width row, so that the
    # chart keeps its width (and its labels) however many models are chosen.
    left, right = st.columns([1, 3])
    with left:
        where = credit or "uploaded"
        st.image(image, caption=f"{where}, {image.width}×{image.height} px")
    with right:
        for name, classifier in loaded.items():
            _show_result(position, filename, raw, image, name, classifier, show_cam)


def _show_result(
    position: int, filename: str, raw: bytes, image, name: str, classifier, show_cam: bool
) -> None:
    try:
        crop = classifier.preview(image)
        started = time.perf_counter()
        (result,) = classifier.classify([raw], top_k=5)
        elapsed_ms = 1000.0 * (time.perf_counter() - started)
    except Exception as exc:  # noqa: BLE001 - show it inline; the other models still run
        st.error(f"{name}: {exc}")
        return
    if result.error:
        st.error(f"{name}: {result.error}")
        return
    top = result.top[0]
    st.markdown(f"**{name}** → **{top.label}** ({100 * top.probability:.1f} %)")
    inner = st.columns([1, 1, 2] if show_cam else [1, 3])
    with inner[0]:
        st.image(crop, caption=f"what it sees, {crop.width}×{crop.height}")
    cam_line = ""
    if show_cam:
        with inner[1]:
            cam_line = _show_cam(image, classifier, name)
    with inner[-1]:
        st.plotly_chart(
            classify_figures.top5_figure(
                [p.label for p in result.top],
                [p.probability for p in result.top],
                f"{name}: top-5",
            ),
            key=f"{KEY}chart_{position}_{name}",
        )
    # Short enough for one line beside other models; the full provenance is in the tooltip.
    st.caption(
        f"{elapsed_ms:.0f} ms for decode + preprocess + forward · weights: "
        f"{source_name(result.weights)}",
        help="Latency of this image alone (batch 1, model already loaded). Weights: "
        f"{result.weights}.{cam_line}",
    )


def _show_cam(image, classifier, name: str) -> str:
    """The Grad-CAM overlay of the top class, labelled as an explanation aid; returns the
    sentence that says how it was made (for the result's tooltip)."""
    from zoo import EXPLANATION_NOTE, activation_map

    try:
        cam = activation_map(classifier, image)
    except Exception as exc:  # noqa: BLE001 - an unsupported family: say so, keep the result
        st.info(f"No activation map for {name}: {exc}")
        return ""
    st.image(cam.overlay, caption=f"where it looks: {EXPLANATION_NOTE}")
    return (
        f" Overlay: Grad-CAM of “{cam.prediction.label.split(',')[0]}” at layer {cam.layer} "
        f"(red = most evidence for that class), {EXPLANATION_NOTE}."
    )
