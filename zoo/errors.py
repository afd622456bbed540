"""Errors the zoo raises for bad input. The CLI turns each into one line and exit status 2."""


class ZooError(ValueError):
    """A request the zoo refuses: the message names what is wrong and what is accepted."""
