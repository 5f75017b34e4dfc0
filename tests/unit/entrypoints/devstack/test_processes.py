"""Signal handling around the dev stack's processes (the processes themselves: tests/integration/devstack)."""

from __future__ import annotations

import signal

import pytest

from dli.entrypoints.devstack.processes import signals_deferred, signals_interrupt


@pytest.fixture
def restore_handlers():
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)


def test_a_deferred_interrupt_arrives_after_the_block_not_inside_it(restore_handlers):
    signal.signal(signal.SIGINT, signal.default_int_handler)
    finished = False
    with pytest.raises(KeyboardInterrupt):
        with signals_deferred():
            signal.raise_signal(signal.SIGINT)
            finished = True
    assert finished
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_deferred_block_leaves_an_ignored_signal_ignored(restore_handlers):
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    with signals_deferred():
        signal.raise_signal(signal.SIGHUP)
    assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN


def test_terminate_and_hangup_raise_keyboard_interrupt_inside_the_block_only(restore_handlers):
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    for signum in (signal.SIGTERM, signal.SIGHUP):
        with pytest.raises(KeyboardInterrupt):
            with signals_interrupt():
                signal.raise_signal(signum)
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_a_hangup_ignored_by_nohup_stays_ignored_inside_the_block(restore_handlers):
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    with signals_interrupt():
        signal.raise_signal(signal.SIGHUP)
    assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
