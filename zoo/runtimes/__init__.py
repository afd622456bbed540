"""The inference runtimes: one module per runtime (named in ``zoo.records.runtimes``), the
ONNX export and artefact cache they share, and the equivalence check against eager fp32.

May import: the zoo's core modules, ``zoo.records``, ``data``.
"""
