"""Fixtures of the ``dli dev`` tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.devstack import make_fake_airflow_venv


@pytest.fixture
def fake_airflow_venv(tmp_path: Path) -> Path:
    """A virtualenv whose ``airflow`` is a stand-in; set ``FAKE_AIRFLOW`` to pick its behaviour."""
    return make_fake_airflow_venv(tmp_path / "fake-airflow-venv")
