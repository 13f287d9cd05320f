"""The benchmark's results as text: the table, the goals, and a Markdown summary.

Every ratio is a median over another median measured in the same run: for a
throughput, above 1 is faster; for the round trip (a time), above 1 is slower.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from .workloads import (
    ASYNCIO,
    CHANNELS,
    CHANNELS_DRAINED,
    GOAL_LATENCY,
    GOAL_THROUGHPUT,
    PYZMQ,
    TRIO_ZMQ,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .runner import Result

__all__ = ["goals", "markdown", "report"]

#: The contenders the goals are about: trio_zmq's own, each against its floor.
_OURS = (TRIO_ZMQ, CHANNELS, CHANNELS_DRAINED)


def format_value(kind: str, value: float) -> str:
    """A median as the table shows it: messages per second, or microseconds."""
    if kind == "latency":
        return f"{value:.1f} us"
    if value >= 1e6:
        return f"{value / 1e6:.2f}M/s"
    return f"{value / 1e3:.1f}k/s"


class _Medians:
    def __init__(self, results: Sequence[Result]) -> None:
        self._of = {(r.workload, r.contender): r.median for r in results}

    def ratio(self, r: Result, other: str | None) -> float:
        """*r*'s median over *other*'s in the same workload (NaN when either is missing)."""
        base = self._of.get((r.workload, other or ""), math.nan)
        return r.median / base if base > 0 else math.nan


def _x(ratio: float) -> str:
    return "" if math.isnan(ratio) else f"{ratio:.2f}x"


def report(results: Sequence[Result]) -> str:
    """The results as a table per workload: median, min, max, ratios to the baseline and floor."""
    medians = _Medians(results)
    lines: list[str] = []
    seen: set[str] = set()
    for r in results:
        if r.workload not in seen:
            seen.add(r.workload)
            lines += ["", r.title]
            lines.append(
                f"  {'contender':30} {'median':>10} {'min':>10} {'max':>10} "
                f"{'/ ' + r.baseline:>14} {'/ floor':>8}"
            )
        if not r.values:
            lines.append(f"  {r.contender:30} {'stalled in every round':>32}")
            continue
        note = f"  ({r.stalled} round(s) stalled)" if r.stalled else ""
        lines.append(
            f"  {r.contender:30} {format_value(r.kind, r.median):>10} "
            f"{format_value(r.kind, min(r.values)):>10} {format_value(r.kind, max(r.values)):>10} "
            f"{_x(medians.ratio(r, r.baseline)):>14} {_x(medians.ratio(r, r.floor)):>8}{note}"
        )
    lines += [
        "",
        "ratios: a median over the median of the baseline (blocking pyzmq; direct trio_zmq for",
        "channels; the native engine for the proxy) and of the contender's Trio floor (raw pyzmq",
        "calls and wait_readable by hand); for the round trip, above 1 is slower",
    ]
    return "\n".join(lines[1:])


def goals(results: Sequence[Result]) -> str:
    """Whether trio_zmq meets its goals against the Trio floor, workload by workload."""
    medians = _Medians(results)
    lines = [
        f"goals: trio_zmq at least {GOAL_THROUGHPUT:.2f}x the Trio floor's throughput, "
        f"at most {GOAL_LATENCY:.2f}x its round trip"
    ]
    for r in results:
        if r.contender not in _OURS or r.floor is None:
            continue
        ratio = medians.ratio(r, r.floor)
        if math.isnan(ratio):
            verdict = "not measured"
        elif r.kind == "latency":
            verdict = "met" if ratio <= GOAL_LATENCY else "missed"
        else:
            verdict = "met" if ratio >= GOAL_THROUGHPUT else "missed"
        lines.append(f"  {r.title:54} {r.contender:20} {_x(ratio):>6}  {verdict}")
    return "\n".join(lines)


def markdown(results: Sequence[Result]) -> str:
    """A Markdown summary (trio_zmq's ratios per workload) and the full results, as tables."""
    medians = _Medians(results)
    lines = [
        "| workload | trio_zmq | / blocking pyzmq | / Trio floor | / zmq.asyncio |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        if r.contender in _OURS and r.floor is not None and r.values:
            name = r.title if r.contender == TRIO_ZMQ else f"{r.title}: {r.contender}"
            lines.append(
                f"| {name} | {format_value(r.kind, r.median)} | {_x(medians.ratio(r, PYZMQ))} "
                f"| {_x(medians.ratio(r, r.floor))} | {_x(medians.ratio(r, ASYNCIO))} |"
            )
    lines += [
        "",
        "| workload | contender | median | min | max | / baseline | / floor |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        if not r.values:
            lines.append(f"| {r.title} | {r.contender} | stalled | | | | |")
            continue
        lines.append(
            f"| {r.title} | {r.contender} | {format_value(r.kind, r.median)} "
            f"| {format_value(r.kind, min(r.values))} | {format_value(r.kind, max(r.values))} "
            f"| {_x(medians.ratio(r, r.baseline))} | {_x(medians.ratio(r, r.floor))} |"
        )
    return "\n".join(lines)
