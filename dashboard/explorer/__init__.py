"""The explorer page: the URL state, the network's tables and drawing, the accuracy estimate,
and a configuration as a token the compare page reads.

May import: ``explorer``, ``data``, the zoo's public face, ``dashboard.plotting``, ``dashboard.measuring``.
"""
