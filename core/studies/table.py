"""A study as a table: one row per trial, or the seeds' one-factor-at-a-time table
(factor, value, val acc, test acc, difference to the baseline), as text, CSV or Markdown."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any

from core.studies.designs import format_value
from core.studies.plan import StudyPlan

STATE_NAMES = {"COMPLETE": "complete", "PRUNED": "pruned", "FAIL": "failed", "RUNNING": "running", "WAITING": "waiting"}


@dataclass
class TrialRow:
    number: int
    state: str  # complete, pruned, failed, retried (its worker died; run again), stopped, running, waiting
    params: dict[str, Any]
    value: float | None  # the objective
    val_accuracy: float | None
    val_loss: float | None
    test_accuracy: float | None
    epochs: int | None
    seconds: float | None
    run_dir: str | None
    error: str = ""
    row: tuple[str, str] | None = None  # OFAT: (factor, value)
    curve: list = field(default_factory=list)
    retry_of: int | None = None


def trial_rows(study) -> list[TrialRow]:
    rows = []
    for t in study.get_trials(deepcopy=False):
        state = STATE_NAMES.get(t.state.name, t.state.name.lower())
        ua = t.user_attrs
        if state == "failed" and not ua.get("error"):
            state = "stopped" if ua.get("stopped") else "retried"
        row = ua.get("row")
        rows.append(
            TrialRow(
                number=t.number,
                state=state,
                params=dict(t.params) if t.params else dict(t.system_attrs.get("fixed_params") or {}),
                value=t.value if t.values else None,
                val_accuracy=ua.get("best_val_accuracy"),
                val_loss=ua.get("best_val_loss"),
                test_accuracy=ua.get("test_accuracy"),
                epochs=ua.get("epochs"),
                seconds=ua.get("seconds"),
                run_dir=ua.get("run_dir") if state not in ("waiting",) else None,
                error=ua.get("error", ""),
                row=tuple(row) if row else None,
                curve=list(ua.get("curve") or []),
                retry_of=t.system_attrs.get("failed_trial"),
            )
        )
    return rows


def finished(rows: list[TrialRow]) -> list[TrialRow]:
    return [r for r in rows if r.state in ("complete", "pruned", "failed")]


def best_row(rows: list[TrialRow], plan: StudyPlan) -> TrialRow | None:
    done = [r for r in rows if r.state == "complete" and r.value is not None]
    if not done:
        return None
    return (min if plan.direction == "minimize" else max)(done, key=lambda r: r.value)


def params_text(params: dict[str, Any]) -> str:
    return " ".join(f"{k}={format_value(v)}" for k, v in params.items())


def _num(value: float | None, digits: int = 4) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def _diff(value: float | None, base: float | None) -> str:
    if value is None or base is None:
        return ""
    return f"{value - base:+.4f}"


def table_data(rows: list[TrialRow], plan: StudyPlan) -> tuple[list[str], list[list[str]]]:
    """Header and rows: the seeds' table for OFAT, one row per trial otherwise."""
    rows = [r for r in rows if r.state not in ("retried", "stopped")]
    if plan.design == "ofat":
        baseline = next((r for r in rows if r.row and r.row[0] == "baseline" and r.state == "complete"), None)
        base_val = baseline.val_accuracy if baseline else None
        base_test = baseline.test_accuracy if baseline else None
        header = ["factor", "value", "val acc", "test acc", "val diff", "test diff", "state", "trial"]
        body = []
        for r in sorted(rows, key=lambda r: (r.row is None or r.row[0] != "baseline", r.number)):
            factor, value = r.row or ("?", params_text(r.params))
            is_base = r is baseline
            body.append(
                [
                    factor,
                    value,
                    _num(r.val_accuracy),
                    _num(r.test_accuracy),
                    "" if is_base else _diff(r.val_accuracy, base_val),
                    "" if is_base else _diff(r.test_accuracy, base_test),
                    r.state + (f" after epoch {r.epochs}" if r.state == "pruned" and r.epochs else ""),
                    str(r.number),
                ]
            )
        return header, body
    keys = [f.key for f in plan.factors]
    extra = ["val acc"] if plan.objective != "val_accuracy" else []
    header = ["trial", *keys, plan.objective, *extra, "test acc", "epochs", "seconds", "state"]
    body = []
    for r in rows:
        body.append(
            [
                str(r.number),
                *[format_value(r.params[k]) if k in r.params else "-" for k in keys],
                _num(r.value),
                *([_num(r.val_accuracy)] if extra else []),
                _num(r.test_accuracy),
                "" if r.epochs is None else str(r.epochs),
                "" if r.seconds is None else f"{r.seconds:.1f}",
                r.state,
            ]
        )
    return header, body


def to_text(header: list[str], body: list[list[str]]) -> str:
    widths = [max(len(h), *(len(row[i]) for row in body)) if body else len(h) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
    for row in body:
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    return "\n".join(lines)


def to_csv(header: list[str], body: list[list[str]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(body)
    return buf.getvalue()


def to_markdown(header: list[str], body: list[list[str]]) -> str:
    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in body]
    return "\n".join(lines) + "\n"


def progress_line(t, plan: StudyPlan, total: int | None) -> str:
    """One line for a finished trial (a FrozenTrial)."""
    ua = t.user_attrs
    state = STATE_NAMES.get(t.state.name, t.state.name.lower())
    if state == "failed" and not ua.get("error"):
        state = "stopped (queued again)" if ua.get("stopped") else "lost (its worker died; queued again)"
    parts = [f"trial {t.number} ({t.number + 1}/{total}) {state}" if total else f"trial {t.number} {state}"]
    if t.state.name == "PRUNED" and ua.get("pruned_after_epoch"):
        parts[0] += f" after epoch {ua['pruned_after_epoch']}"
    row = ua.get("row")
    if row:  # one factor at a time: the row's change
        parts.append("baseline" if row[0] == "baseline" else f"{row[0]}={row[1]}")
    elif t.params:
        parts.append(params_text(t.params))
    if ua.get("error"):
        parts.append(f"error: {ua['error']}")
    else:
        if ua.get("best_val_accuracy") is not None:
            parts.append(f"val_accuracy {ua['best_val_accuracy']:.4f}")
        if plan.objective == "val_loss" and ua.get("best_val_loss") is not None:
            parts.append(f"val_loss {ua['best_val_loss']:.4f}")
        if ua.get("test_accuracy") is not None:
            parts.append(f"test accuracy {ua['test_accuracy']:.4f}")
        if ua.get("seconds") is not None:
            parts.append(f"{ua['seconds']:.0f} s")
    return "  ".join(parts)


def best_line(rows: list[TrialRow], plan: StudyPlan, folder) -> str:
    best = best_row(rows, plan)
    if best is None:
        return f"best: no trial completed, study saved in {folder}"
    test = "n/a" if best.test_accuracy is None else f"{best.test_accuracy:.4f}"
    if best.row:  # one factor at a time: the row's change against the baseline
        what = "baseline" if best.row[0] == "baseline" else f"{best.row[0]}={best.row[1]}"
    else:
        what = params_text(best.params)
    return (
        f"best: trial {best.number} {plan.objective} {best.value:.4f} test accuracy {test} "
        f"({what}), study saved in {folder}"
    )
