"""Classifying with real weights: decoding images safely, each model's own preprocessing,
class-activation maps, runtimes verified for classification, and evaluation on a folder.

May import: the zoo's core modules, ``zoo.records``, ``zoo.models``, ``zoo.runtimes``, ``zoo.weights``, ``data``.
"""
