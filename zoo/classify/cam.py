"""Where the model looks: a Grad-CAM class-activation map of one class over the crop the model sees.

An explanation aid, not ground truth (``EXPLANATION_NOTE``, shown wherever a map is). Why
captum's ``LayerGradCam`` on each family's last spatial feature map: there Grad-CAM equals the
original CAM, and captum runs offline on the CPU with matplotlib as its only extra. Maps are
computed on a private copy of the model, since captum hooks the layer while it runs.
Layers and limits: docs/evaluate.md, 'Where the model looks (class-activation maps)'.
"""

from __future__ import annotations

import copy
import threading
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING

from zoo.classify.classifier import Classifier, Prediction
from zoo.errors import ZooError

if TYPE_CHECKING:
    import numpy as np
    import torch
    from PIL import Image as PILImage

__all__ = [
    "COLORMAP",
    "EXPLANATION_NOTE",
    "METHOD",
    "ActivationMap",
    "activation_map",
    "overlay_heatmap",
    "target_layer",
]

#: The label every class-activation map carries, on the page and in the CLI.
EXPLANATION_NOTE = "explanation aid, not ground truth"
METHOD = "Grad-CAM (captum LayerGradCam)"
#: matplotlib colormap of the overlay: blue (no evidence) to red (most evidence).
COLORMAP = "turbo"
#: Weight of the heat map in the overlay (the crop gets the rest).
OVERLAY_ALPHA = 0.45

_FAMILIES = (
    "timm EfficientNet (EfficientNet, EfficientNet-Lite, MobileNetV2, MNASNet), MobileNetV3, "
    "ResNet/ResNeXt, ConvNeXt, RegNet"
)


@dataclass(frozen=True, eq=False)
class ActivationMap:
    """A class-activation map for one image: the class, the layer, the map and its overlay."""

    model: str
    layer: str  # the target layer's name in the model, e.g. "bn2" or "layer4.2"
    prediction: Prediction  # the class explained (the top class unless asked otherwise)
    heatmap: np.ndarray  # (H, W) float32 in [0, 1], the size of the crop
    crop: PILImage.Image  # what the model sees (``Classifier.preview``)
    overlay: PILImage.Image  # the heat map over the crop
    method: str = METHOD
    note: str = EXPLANATION_NOTE


def target_layer(model: torch.nn.Module) -> tuple[str, torch.nn.Module]:
    """(name, module) of the layer Grad-CAM reads for ``model`` (module docstring), or
    ``ZooError`` for a family it does not support."""
    from timm.models.convnext import ConvNeXt
    from timm.models.efficientnet import EfficientNet
    from timm.models.mobilenetv3 import MobileNetV3
    from timm.models.regnet import RegNet
    from timm.models.resnet import ResNet

    if isinstance(model, EfficientNet):
        return "bn2", model.bn2
    if isinstance(model, MobileNetV3):
        return "blocks", model.blocks
    if isinstance(model, ResNet):
        last = len(model.layer4) - 1
        return f"layer4.{last}", model.layer4[last]
    if isinstance(model, ConvNeXt):
        last = len(model.stages) - 1
        return f"stages.{last}", model.stages[last]
    if isinstance(model, RegNet):
        return "final_conv", model.final_conv
    raise ZooError(
        f"class-activation maps are not available for {type(model).__name__} models; "
        f"accepted: {_FAMILIES} (vision transformers need a token reshape, not supported)"
    )


_copies: weakref.WeakKeyDictionary[Classifier, tuple[torch.nn.Module, threading.Lock]] = (
    weakref.WeakKeyDictionary()
)
_copies_lock = threading.Lock()


def _private_model(classifier: Classifier) -> tuple[torch.nn.Module, threading.Lock]:
    with _copies_lock:
        if classifier not in _copies:
            _copies[classifier] = (copy.deepcopy(classifier.model).eval(), threading.Lock())
        return _copies[classifier]


def activation_map(
    classifier: Classifier, image: PILImage.Image, class_index: int | None = None
) -> ActivationMap:
    """Grad-CAM of ``class_index`` (default: the top class) for one decoded RGB image, over
    the crop ``classifier`` feeds the model. Raises ``ZooError`` for an unsupported family."""
    import numpy as np
    import torch
    from captum.attr import LayerGradCam

    model, lock = _private_model(classifier)
    name, _ = target_layer(model)
    layer = model.get_submodule(name)
    crop = classifier.preview(image)
    batch = classifier.batch([classifier.pixels(image)])
    with lock:
        with torch.no_grad():
            probabilities = model(batch).softmax(dim=-1)[0]
        if class_index is None:
            class_index = int(probabilities.argmax())
        elif not 0 <= class_index < classifier.num_classes:
            raise ZooError(f"class index must be 0 to {classifier.num_classes - 1}")
        with torch.inference_mode(False), torch.enable_grad():
            attribution = LayerGradCam(model, layer).attribute(
                batch, target=class_index, relu_attributions=True
            )
    heat = torch.nn.functional.interpolate(
        attribution.detach(), size=(crop.height, crop.width), mode="bilinear", align_corners=False
    )[0, 0]
    peak = float(heat.max())
    heatmap = (heat / peak if peak > 0 else torch.zeros_like(heat)).numpy().astype(np.float32)
    prediction = Prediction(
        index=class_index,
        label=classifier.labels[class_index],
        probability=float(probabilities[class_index]),
    )
    return ActivationMap(
        model=classifier.model_name,
        layer=name,
        prediction=prediction,
        heatmap=heatmap,
        crop=crop,
        overlay=overlay_heatmap(crop, heatmap),
    )


def overlay_heatmap(
    crop: PILImage.Image, heatmap: np.ndarray, alpha: float = OVERLAY_ALPHA
) -> PILImage.Image:
    """``heatmap`` (values in [0, 1], the crop's size) coloured with ``COLORMAP`` and blended
    over ``crop`` with weight ``alpha``."""
    import numpy as np
    from matplotlib import colormaps
    from PIL import Image

    if heatmap.shape != (crop.height, crop.width):
        raise ZooError(f"heat map {heatmap.shape} does not match the crop {crop.size[::-1]}")
    colours = colormaps[COLORMAP](np.clip(heatmap, 0.0, 1.0))[..., :3]
    pixels = np.asarray(crop.convert("RGB"), dtype=np.float32) / 255.0
    blended = (1.0 - alpha) * pixels + alpha * colours
    return Image.fromarray(np.round(blended * 255.0).astype(np.uint8), mode="RGB")
