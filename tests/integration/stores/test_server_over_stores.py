"""``basecamp serve --store file://...`` and ``--store s3://...`` with the ``dli`` CLI end to end:
register, list, override by a published code spec, fallback after pruning it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.backends import write_spec
from tests.support.basecamp import start_basecamp
from tests.support.specs import make_spec

NAME = "shop.sales.daily"


@pytest.fixture(params=["file", "s3"])
def store(request, tmp_path) -> tuple[str, dict[str, str]]:
    if request.param == "file":
        return (tmp_path / "store").as_uri(), {}
    server = request.getfixturevalue("moto_server")
    return f"s3://{server.new_bucket()}/specs", server.env()


def test_register_list_override_and_fallback_through_a_real_server(tmp_path, store):
    store_url, env = store
    server = start_basecamp(tmp_path / "server", store_url=store_url, env=env, check_interval=0.2)
    try:
        manual_project = tmp_path / "manual"
        write_spec(manual_project, make_spec(NAME, cron=None, description="by hand"))
        code_project = tmp_path / "code"
        write_spec(code_project, make_spec(NAME, cron="0 9 * * *", description="from git"))
        empty_project = tmp_path / "empty"
        empty_project.mkdir()
        (empty_project / "dli.yaml").touch()
        base_env = {k: v for k, v in os.environ.items() if not k.startswith("DLI_")}
        base_env.update(env, DLI_API_TOKEN=server.token, XDG_CONFIG_HOME=str(tmp_path / "xdg"))

        def dli(*args: str, project: Path = manual_project) -> subprocess.CompletedProcess[str]:
            result = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "dli",
                    "--mode",
                    "server",
                    "--server",
                    server.url,
                    "--path",
                    str(project),
                    *args,
                ],
                capture_output=True,
                text=True,
                env=base_env,
                timeout=60,
            )
            assert result.returncode == 0, result.stdout + result.stderr
            return result

        def listed() -> dict[str, str]:
            data = json.loads(dli("workflow", "list", "--format", "json").stdout)
            return {w["source_type"]: w["status"] for w in data["workflows"]}

        def eventually(expected: dict[str, str]) -> None:
            deadline = time.monotonic() + 15
            while listed() != expected:
                assert time.monotonic() < deadline, f"list stayed {listed()}, expected {expected}"
                time.sleep(0.2)

        dli("workflow", "register", NAME, "--cron", "0 8 * * *")
        assert listed() == {"manual": "active"}

        dli("workflow", "publish", "--store", store_url, project=code_project)
        eventually({"code": "active", "manual": "overridden"})
        info = json.loads(dli("workflow", "history", "-d", NAME, "--show-dataset-info", "--format", "json").stdout)
        assert info["dataset_info"]["description"] == "from git"

        dli("workflow", "publish", "--store", store_url, "--prune", project=empty_project)
        eventually({"manual": "active"})
        assert json.loads(dli("workflow", "list", "--format", "json").stdout)["workflows"][0]["cron"] == "0 8 * * *"
    finally:
        server.stop()
