"""What a measurement is, as plain records: the runtime table, the protocol, the
measurement and evaluation records, and the environment fingerprint. No torch, no I/O, so
every other wing can share them.

May import: ``zoo.errors``.
"""
