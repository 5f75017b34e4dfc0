"""The ``dli`` command line."""


def main() -> None:
    """Entry point of the ``dli`` console script."""
    import gc

    # A CLI process is short-lived and start-up allocates many long-lived objects (attrs classes,
    # cyclopts parameters): collecting them is wasted time. ``--wait`` turns collection back on.
    gc.disable()
    from dli.entrypoints.cli.app import run

    run()
