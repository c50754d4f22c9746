"""Ctrl-C and SIGTERM become a request the demo honours at its next safe point."""

from __future__ import annotations

import os
import signal

import pytest

from streamscore.interruption import Interruption


def test_a_first_signal_only_asks_and_the_next_check_raises() -> None:
    with Interruption() as interruption:
        os.kill(os.getpid(), signal.SIGTERM)
        assert interruption.requested.is_set()
        with pytest.raises(KeyboardInterrupt):
            interruption.check()


def test_a_second_signal_raises_at_once() -> None:
    with Interruption():
        os.kill(os.getpid(), signal.SIGINT)
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)


def test_a_shielded_block_is_not_interrupted_but_the_request_is_kept() -> None:
    with Interruption() as interruption:
        interruption.requested.set()
        with interruption.shielded():
            os.kill(os.getpid(), signal.SIGTERM)
            finished = True
        assert finished
        assert interruption.requested.is_set()


def test_the_previous_handlers_are_back_afterwards() -> None:
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    with Interruption():
        assert signal.getsignal(signal.SIGTERM) != before[0]
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before


def test_a_sleep_is_cut_short_by_a_request() -> None:
    with Interruption() as interruption:
        interruption.requested.set()
        with pytest.raises(KeyboardInterrupt):
            interruption.sleep(60)
