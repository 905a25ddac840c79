"""One reading of a setting's value typed by a person (the command line, a study file, a form).

``as_kind(value, kind)`` turns ``"true"``, ``"on"``, ``1``; ``"32"``, ``32.0``; ``"1e-3"`` into the
bool, int or float a setting takes, or raises ``ValueError`` whose text says what was expected
(:data:`EXPECTED`). Model options (core/models/registry.py) and study factors (core/studies/plan.py)
both read values through it, each wrapping the error in its own sentence.
"""

from __future__ import annotations

from typing import Any

TRUE_WORDS = ("true", "yes", "on", "1")
FALSE_WORDS = ("false", "no", "off", "0")
EXPECTED = {bool: "on or off (true/false)", int: "a whole number", float: "a number"}


def as_kind(value: Any, kind: type) -> Any:
    """``value`` as ``kind`` (bool, int or float); ValueError(EXPECTED[kind]) when it is not one."""
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, int | float) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in TRUE_WORDS + FALSE_WORDS:
            return value.strip().lower() in TRUE_WORDS
    elif kind is int:
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                pass
    elif kind is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value.strip())
            except ValueError:
                pass
    else:
        raise TypeError(f"as_kind reads bool, int or float, not {kind!r}")
    raise ValueError(EXPECTED[kind])


_DURATION_UNITS = {"s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}


def parse_duration(text: str | float | int) -> float:
    """``"2m"``, ``"90s"``, ``"1h"``, ``"1m30s"`` or a number of seconds -> seconds (ValueError otherwise)."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        seconds = float(text)
    else:
        rest = str(text).strip().lower().replace(" ", "")
        seconds, number = 0.0, ""
        unit_seen = False
        i = 0
        while i < len(rest):
            ch = rest[i]
            if ch.isdigit() or ch == ".":
                number += ch
                i += 1
                continue
            unit = next((u for u in ("min", "sec", "s", "m", "h") if rest.startswith(u, i)), None)
            if unit is None or not number:
                raise ValueError("a time such as 2m, 90s, 1m30s or 1h")
            seconds += float(number) * _DURATION_UNITS[unit]
            number, unit_seen = "", True
            i += len(unit)
        if number:
            seconds += float(number)  # a bare number: seconds
        elif not unit_seen:
            raise ValueError("a time such as 2m, 90s, 1m30s or 1h")
    if not seconds > 0 or seconds != seconds or seconds == float("inf"):
        raise ValueError("a time above zero, such as 2m, 90s, 1m30s or 1h")
    return seconds


def format_duration(seconds: float) -> str:
    """Seconds as people write them: 45 s, 2 min, 2 min 30 s, 1 h 5 min."""
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    if h:
        return f"{h} h {m} min" if m else f"{h} h"
    return f"{m} min {s} s" if s else f"{m} min"
