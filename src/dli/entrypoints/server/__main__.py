"""``python -m dli.entrypoints.server`` is ``basecamp``."""

from dli.entrypoints.server.cli import main

main()
