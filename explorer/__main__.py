"""``python -m explorer``: hands the command line to ``explorer.cli.main``.

The explorer needs the standard library only, so any Python 3.10+ runs it. Why the import is
guarded all the same: should a package be missing, the user gets one line naming it and the
venv, not a traceback. The commands: README.md, 'Command line'.
"""

import sys

try:
    from explorer.cli import main
except ModuleNotFoundError as exc:
    if (exc.name or "").partition(".")[0] in {"explorer", "data"}:
        raise  # our own module is missing: a broken checkout, not the wrong Python
    sys.stderr.write(
        f"effscale: missing package {exc.name!r} for this Python ({sys.executable}); run "
        "`make install` and use .venv/bin/python (or `source .venv/bin/activate`)\n"
    )
    raise SystemExit(2) from None

raise SystemExit(main())
