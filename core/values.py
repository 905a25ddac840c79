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
