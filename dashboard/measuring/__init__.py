"""Measuring from the dashboard: the job queue as pages show it, the live panel, the server's
worker and the first-run sweep. Measurements are jobs, never run in a page's script.

May import: the zoo's public face, ``dashboard.text``.
"""
