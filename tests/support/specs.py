"""Builders of specs and documents for tests (shipped with the contract suites in ``dli.testing``)."""

from dli.testing.specs import *  # noqa: F403
from dli.testing.specs import __all__  # noqa: F401
