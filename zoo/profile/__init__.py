"""Where the time goes: a network's measured time per stage and operator kind from each
runtime's own profiler, set against the machine's measured ceilings (a roofline).
May import: the zoo's core modules, ``zoo.records``, ``zoo.models``, ``zoo.runtimes``,
``zoo.measure``, and the explorer. docs/profile.md.
"""
