"""The compare page: the accuracy views, measurement series and machines, the chart, the
user's own data and configurations, and queueing what is missing.

May import: ``explorer``, ``data``, the zoo's public face, ``dashboard.explorer`` and the shared dashboard modules.
"""
