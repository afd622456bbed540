"""Errors the zoo raises for bad input: ``ZooError``, whose message names what is wrong and what is
accepted.

One type for every refusal, so that the CLI turns each into one line on stderr and exit status
2, never a traceback (docs/reliability.md, 'Hostile and random input').
"""


class ZooError(ValueError):
    """A request the zoo refuses: the message names what is wrong and what is accepted."""
