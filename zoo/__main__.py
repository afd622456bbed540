"""``python -m zoo``: hands the command line to ``zoo.cli.main``, one module per subcommand.

Kept to one call so that every command lives in the ``zoo.cli`` wing, where tests run the same
``main`` in-process with a list of arguments. Why the import is guarded: a Python without the
project's packages (``python`` instead of ``.venv/bin/python``) gets one line, not a traceback.
The commands: README.md, 'Command line'.
"""

import sys


def _wrong_python(exc: ModuleNotFoundError) -> SystemExit:
    """One line naming the missing package and the Python to use instead (exit 2)."""
    if (exc.name or "").partition(".")[0] in {"zoo", "explorer", "data"}:
        raise exc  # our own module is missing: a broken checkout, not the wrong Python
    sys.stderr.write(
        f"effscale: missing package {exc.name!r} for this Python ({sys.executable}); run "
        "`make install` and use .venv/bin/python (or `source .venv/bin/activate`)\n"
    )
    return SystemExit(2)


try:
    from zoo.cli.main import main

    code = main()  # a subcommand imports torch, timm, … only when it runs
except ModuleNotFoundError as exc:
    raise _wrong_python(exc) from None
raise SystemExit(code)
