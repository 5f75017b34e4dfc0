"""The ``dli`` command line."""


def main() -> None:
    """Entry point of the ``dli`` console script."""
    from dli.entrypoints.cli.app import run

    run()
