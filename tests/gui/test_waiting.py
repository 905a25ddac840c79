"""gui/waiting.py: the screenshot scripts' waits process Qt's events while they wait."""

from __future__ import annotations

import time

import pytest
from PySide6.QtCore import QTimer

from gui.waiting import settle, wait_until


def test_wait_until_processes_events_until_the_condition_holds(qapp):
    fired = []
    QTimer.singleShot(50, lambda: fired.append(True))  # only an event loop that runs fires it
    started = time.monotonic()
    wait_until(qapp, lambda: fired, timeout_s=10)
    assert fired and time.monotonic() - started < 5


def test_wait_until_says_what_did_not_get_there(qapp):
    with pytest.raises(TimeoutError, match="the study did not get there in time"):
        wait_until(qapp, lambda: False, timeout_s=0.05, what="the study")


def test_settle_processes_events_for_its_time(qapp):
    fired = []
    QTimer.singleShot(0, lambda: fired.append(True))
    started = time.monotonic()
    settle(qapp, 0.2)
    assert fired and time.monotonic() - started >= 0.2
