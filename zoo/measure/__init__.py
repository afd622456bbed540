"""Taking a measurement: the memory guard, the machine-wide lock, a quiet machine, isolated
processes, the timed loop, and the orchestration that stores each result as it lands.

May import: the zoo's core modules, ``zoo.records``, ``zoo.models``, ``zoo.runtimes``, ``zoo.store``.
"""
