"""``python -m zoo``: one module per subcommand, and how results are printed.

May import: every wing of the zoo, ``explorer``.
"""
