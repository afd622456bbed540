"""Golden numbers typed from primary sources, shared by the tests that check against them.

torchvision's EfficientNet_B{0..7}_Weights.IMAGENET1K_V1 metadata (pytorch/vision
``torchvision/models/efficientnet.py`` @07a929e; 3-decimal ``_ops`` from a later copy of that
file, agreeing with the pytorch.org model pages for B0-B2): exact ``num_params``, ``_ops``
("GFLOPS" in its docs, which are GMACs) at the weights' crop size, and that crop size.
"""

from __future__ import annotations

#: variant: (num_params, GMACs, crop px). torchvision evaluates B2 at 288, not 260.
TORCHVISION_EFFICIENTNET: dict[str, tuple[int, float, int]] = {
    "b0": (5_288_548, 0.386, 224),
    "b1": (7_794_184, 0.687, 240),
    "b2": (9_109_994, 1.088, 288),
    "b3": (12_233_232, 1.827, 300),
    "b4": (19_341_616, 4.394, 380),
    "b5": (30_389_784, 10.266, 456),
    "b6": (43_040_704, 19.068, 528),
    "b7": (66_347_960, 37.746, 600),
}
