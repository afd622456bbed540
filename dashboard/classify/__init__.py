"""The classify page: uploads and sample photos, the crop each model sees, where it looks,
its top-5.

May import: ``data``, the zoo's public face, ``dashboard.text``.
"""
