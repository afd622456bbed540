"""Who runs the queue's jobs: this machine's worker, and each node of a Ray cluster (the
nodes, the selector, the dispatch).

May import: the zoo's core modules, ``zoo.records``, ``zoo.models``, ``zoo.store``, ``zoo.measure``.
"""
