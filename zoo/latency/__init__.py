"""The latency model: what a network built by the explorer will cost on this machine, predicted
from the store's measurements before it is measured, and why (per part and operator kind).
May import: the zoo's core modules, ``zoo.records``, ``zoo.models``, ``zoo.store``,
``zoo.measure``, ``zoo.workers``, ``zoo.profile`` (kept profiles), and the explorer.
docs/latency-model.md.
"""
