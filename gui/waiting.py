"""Waiting in scripts that drive the app (the screenshot tools): Qt's events pumped meanwhile.

:func:`wait_until` processes the application's events until a condition holds (or raises
``TimeoutError``); :func:`settle` processes them for a while, so that what was just changed is
laid out and painted before a screenshot. Tests use pytest-qt's ``qtbot.waitUntil`` instead.
"""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_until(
    app,
    condition: Callable[[], object],
    timeout_s: float = 600,
    *,
    what: str = "the app",
    interval_s: float = 0.01,
) -> None:
    """Process ``app``'s events until ``condition()`` is true; ``TimeoutError`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not get there in time")
        app.processEvents()
        time.sleep(interval_s)


def settle(app, seconds: float = 0.5, *, interval_s: float = 0.01) -> None:
    """Process ``app``'s events for ``seconds``."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(interval_s)
