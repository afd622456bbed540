"""The model zoo: builds PyTorch models for what the explorer describes and measures them.

This package alone touches torch, timm and ptflops. Public functions hand back frozen dataclasses
of numbers and strings; only ``build_*`` functions return torch objects. Importing it has no side
effects: torch and timm are imported lazily inside the functions that need them.
"""

from zoo.errors import ZooError

__all__ = ["ZooError"]
