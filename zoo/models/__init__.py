"""What to build and how: ``ModelSpec`` for any explorer configuration or timm peer, the
network with random weights, and its exact parameters and MACs.

May import: ``zoo.errors``, ``explorer``, ``data``.
"""
