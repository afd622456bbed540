"""``python -m zoo``: hands the command line to ``zoo.cli.main``, one module per subcommand.

Kept to one call so that every command lives in the ``zoo.cli`` wing, where tests run the same
``main`` in-process with a list of arguments. The commands: README.md, 'Command line'.
"""

from zoo.cli.main import main

raise SystemExit(main())
