"""The version of dli (one place; the package and the entrypoints read it here)."""

__version__ = "0.1.0"
