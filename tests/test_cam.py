"""zoo.cam: the target layer of each family, Grad-CAM against the analytic CAM, the overlay, the CLI.

The golden map is computed here without captum: with global average pooling and a linear
classifier, Grad-CAM at the pooled feature map equals the original CAM (Zhou et al. 2016),
ReLU(sum_k w_ck A_k), up to a positive factor that the normalisation to [0, 1] removes.
"""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from data.samples import PHOTOS_DIR
from zoo.classify.cam import EXPLANATION_NOTE, activation_map, overlay_heatmap, target_layer
from zoo.classify.classifier import get_classifier
from zoo.cli.main import main
from zoo.errors import ZooError

pytestmark = pytest.mark.usefixtures("no_hub_cache")

MODEL = "tf_efficientnet_lite0"


@pytest.fixture(scope="module")
def lite0():
    return get_classifier(MODEL)


@pytest.mark.parametrize(
    ("name", "layer"),
    [
        ("tf_efficientnet_lite0", "bn2"),
        ("efficientnet_b0", "bn2"),
        ("mobilenetv2_050", "bn2"),
        ("mobilenetv3_small_050", "blocks"),
        ("resnet18", "layer4.1"),
        ("convnext_atto", "stages.3"),
        ("regnety_002", "final_conv"),
    ],
)
def test_the_target_layer_is_what_the_global_pooling_reads(name, layer):
    import timm

    model = timm.create_model(name, pretrained=False).eval()  # structure only: no weights
    found, module = target_layer(model)
    assert found == layer and model.get_submodule(found) is module
    captured: list[torch.Tensor] = []
    handle = module.register_forward_hook(lambda _m, _i, out: captured.append(out))
    with torch.inference_mode():
        features = model.forward_features(torch.randn(1, 3, 96, 96))
    handle.remove()
    assert captured and captured[-1].dim() == 4
    assert torch.equal(captured[-1], features)


def test_transformers_are_refused_with_the_supported_families():
    import timm

    model = timm.create_model("vit_tiny_patch16_224", pretrained=False)
    with pytest.raises(ZooError, match="not available for VisionTransformer.*ResNet"):
        target_layer(model)


def test_grad_cam_equals_the_analytic_cam_on_the_crop_the_model_sees(lite0):
    image = lite0.decode(PHOTOS_DIR / "cat.jpg")
    cam = activation_map(lite0, image)
    x = lite0.preprocess(image).unsqueeze(0)
    with torch.inference_mode():
        features = lite0.model.forward_features(x)[0]  # (1280, 7, 7), after bn2 + ReLU6
        (top,) = lite0.predict(x, top_k=1)
    weights = lite0.model.classifier.weight[top[0].index]
    raw = torch.relu((weights[:, None, None] * features).sum(0))
    expected = F.interpolate(raw[None, None], size=(224, 224), mode="bilinear")[0, 0]
    expected = (expected / expected.max()).numpy()
    assert cam.prediction.index == top[0].index
    assert cam.prediction.probability == pytest.approx(top[0].probability, rel=1e-5)
    assert cam.layer == "bn2" and cam.heatmap.shape == (224, 224)
    assert np.abs(cam.heatmap - expected).max() < 1e-4
    assert cam.crop.size == (224, 224)
    assert np.array_equal(np.asarray(cam.crop), np.asarray(lite0.preview(image)))
    assert cam.note == EXPLANATION_NOTE == "explanation aid, not ground truth"


def test_another_class_can_be_explained(lite0):
    image = lite0.decode(PHOTOS_DIR / "cat.jpg")
    tabby = activation_map(lite0, image, class_index=281)
    assert tabby.prediction.index == 281 and tabby.prediction.label == "tabby, tabby cat"
    with pytest.raises(ZooError, match="class index"):
        activation_map(lite0, image, class_index=1000)


def test_the_overlay_blends_the_colormap_over_the_crop():
    from matplotlib import colormaps

    crop = Image.new("RGB", (4, 2), (200, 100, 50))
    heat = np.array([[0.0, 0.5, 1.0, 1.0], [0.0, 0.0, 0.0, 0.25]], dtype=np.float32)
    overlay = overlay_heatmap(crop, heat, alpha=0.5)
    assert overlay.size == (4, 2) and overlay.mode == "RGB"
    cold = np.array(colormaps["turbo"](0.0)[:3]) * 255
    hot = np.array(colormaps["turbo"](1.0)[:3]) * 255
    pixels = np.asarray(overlay).astype(float)
    assert np.abs(pixels[0, 0] - (0.5 * np.array([200, 100, 50]) + 0.5 * cold)).max() <= 0.51
    assert np.abs(pixels[0, 2] - (0.5 * np.array([200, 100, 50]) + 0.5 * hot)).max() <= 0.51
    with pytest.raises(ZooError, match="does not match the crop"):
        overlay_heatmap(crop, heat.T)


def test_maps_never_touch_the_shared_model_and_run_beside_classification(lite0):
    image = lite0.decode(PHOTOS_DIR / "espresso.jpg")
    raw = (PHOTOS_DIR / "espresso.jpg").read_bytes()
    expected = lite0.classify([raw])
    reference = activation_map(lite0, image).heatmap
    errors: list[BaseException] = []

    def classify() -> None:
        try:
            for _ in range(3):
                assert lite0.classify([raw]) == expected
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    thread = threading.Thread(target=classify)
    thread.start()
    maps = [activation_map(lite0, image).heatmap for _ in range(2)]
    thread.join()
    assert not errors
    assert all(np.array_equal(m, reference) for m in maps)
    assert not lite0.model.bn2._forward_hooks and not lite0.model.bn2._backward_hooks
    assert not any(p.requires_grad for p in lite0.model.parameters())


def test_classify_cli_writes_overlays(tmp_path, capsys):
    out = tmp_path / "cams"
    images = [
        str(PHOTOS_DIR / "cat.jpg"),
        str(tmp_path / "missing.jpg"),
        str(PHOTOS_DIR / "rocket.jpg"),
    ]
    argv = ["classify", *images, "--model", MODEL, "--cam", str(out), "--format", "json"]
    assert main(argv) == 0
    cat, missing, rocket = json.loads(capsys.readouterr().out)
    assert missing["cam"] is None and missing["error"]
    for record, stem in ((cat, "000-cat"), (rocket, "002-rocket")):
        assert record["cam"] == str(out / f"{stem}-{MODEL}-cam.png")
        with Image.open(record["cam"]) as png:
            assert png.format == "PNG" and png.size == (224, 224)
    assert main(["classify", images[0], "--model", MODEL, "--cam", str(out)]) == 0
    table = capsys.readouterr().out
    assert f"where it looks (Grad-CAM, {EXPLANATION_NOTE}): {out}" in table


def test_classify_cli_refuses_a_cam_path_that_is_a_file(tmp_path, capsys):
    blocker = tmp_path / "file.png"
    blocker.write_bytes(b"x")
    argv = ["classify", str(PHOTOS_DIR / "cat.jpg"), "--model", MODEL, "--cam", str(blocker)]
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "is not a folder" in captured.err


def test_the_help_says_what_a_map_is(capsys):
    with pytest.raises(SystemExit):
        main(["classify", "--help"])
    assert EXPLANATION_NOTE in " ".join(capsys.readouterr().out.split())


def test_a_link_planted_at_an_overlays_name_is_replaced_never_followed(tmp_path, capsys):
    """Another user who can write the folder plants a link where the overlay will go: the link
    is replaced by the overlay; its target is untouched."""
    out = tmp_path / "cams"
    out.mkdir()
    target = tmp_path / "victim.txt"
    target.write_text("precious")
    (out / f"000-cat-{MODEL}-cam.png").symlink_to(target)
    assert main(["classify", str(PHOTOS_DIR / "cat.jpg"), "--model", MODEL, "--cam", str(out)]) == 0
    assert target.read_text() == "precious"
    written = out / f"000-cat-{MODEL}-cam.png"
    assert not written.is_symlink() and written.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary left


def test_overlays_that_cannot_be_written_are_named_and_the_results_still_printed(
    tmp_path, capsys, monkeypatch
):
    """A full (or read-only) folder: one line per overlay that could not be written, every
    classification still printed, and exit status 3 (partial)."""
    import errno

    import zoo.cli.classify as cli_classify

    def full(path, data, mode=0o644):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(cli_classify, "write_replacing", full)
    images = [str(PHOTOS_DIR / "cat.jpg"), str(PHOTOS_DIR / "rocket.jpg")]
    argv = ["classify", *images, "--model", MODEL, "--cam", str(tmp_path), "--format", "json"]
    assert main(argv) == cli_classify.PARTIAL == 3
    captured = capsys.readouterr()
    printed = json.loads(captured.out)
    assert [r["error"] for r in printed] == [None, None] and all(r["top"] for r in printed)
    assert [r["cam"] for r in printed] == [None, None]
    lines = captured.err.strip().splitlines()
    assert len(lines) == 2 and all("No space left on device" in line for line in lines)
