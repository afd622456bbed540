"""Benchmarks: each prints ratios measured side by side in one run. Run one as
``python -m bench.NAME`` from the checkout (``make bench`` runs the standard set).
"""
