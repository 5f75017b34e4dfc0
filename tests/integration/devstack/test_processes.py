"""Sessions of real processes: who belongs, when the leader is gone, stopping all of them."""

from __future__ import annotations

import os
import sys

from dli.entrypoints.devstack.processes import (
    leader_alive,
    session_alive,
    session_pids,
    spawn_detached,
    stop_session,
)
from tests.support.devstack import running, wait_for

# The leader starts a child that lives and one that exits unreaped (a zombie of the session).
LEADER = (
    "import os, time\n"
    "os.spawnlp(os.P_NOWAIT, 'sleep', 'sleep', '300')\n"
    "os.spawnlp(os.P_NOWAIT, 'true', 'true')\n"
    "time.sleep(300)\n"
)


def members(sid: int) -> list[int]:
    """Every process of the session, zombies included."""
    found = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.getsid(int(entry)) == sid:
                found.append(int(entry))
        except OSError:
            pass
    return found


def test_a_session_lists_its_live_processes_and_no_zombie_or_stranger(tmp_path):
    leader = spawn_detached([sys.executable, "-c", LEADER], env=dict(os.environ), log=tmp_path / "a.log", cwd=tmp_path)
    stranger = spawn_detached(["sleep", "300"], env=dict(os.environ), log=tmp_path / "b.log", cwd=tmp_path)
    try:
        wait_for(
            lambda: len(members(leader)) == 3 and not all(map(running, members(leader))),
            timeout=20,
            what="a live child and a zombie",
        )
        live = [pid for pid in members(leader) if running(pid)]
        assert sorted(session_pids(leader)) == sorted(live) and leader in live and len(live) == 2
        assert stranger not in session_pids(leader)
        assert stop_session(leader, grace_seconds=5)
        assert session_pids(leader) == [] and not session_alive(leader)
        assert session_alive(stranger)
    finally:
        stop_session(leader, grace_seconds=1)
        stop_session(stranger, grace_seconds=1)


def test_a_leader_that_exits_is_gone_while_its_children_keep_the_session_alive(tmp_path):
    leader = spawn_detached(
        ["sh", "-c", "sleep 300 & exit 0"], env=dict(os.environ), log=tmp_path / "a.log", cwd=tmp_path
    )
    try:
        wait_for(lambda: not leader_alive(leader), timeout=20, what="the leader to exit")
        assert session_alive(leader)
        assert stop_session(leader, grace_seconds=5)
        assert not session_alive(leader)
    finally:
        stop_session(leader, grace_seconds=1)
