"""The benchmark's chart: every workload's speed relative to its baseline, per contender.

``trio-zmq bench --plot FILE.svg`` draws it after a run, and ``--from-json``
draws it again from a run's saved results. matplotlib is an optional extra
(``pip install trio-zmq[bench]``), imported here only, and looked for before
the benchmark starts, so a missing one costs no measuring time.

One row of bars per workload, one bar per contender, on a logarithmic axis
with the baseline at 1. Every bar is a *speed*: throughput over the
baseline's, and for a round trip the baseline's latency over the
contender's, so that longer is better everywhere (the table's latency ratio
is the inverse: above 1 is slower).
"""

from __future__ import annotations

import importlib.util
import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

__all__ = ["MISSING_MATPLOTLIB", "check_available", "plot", "relative_speeds"]

MISSING_MATPLOTLIB = (
    "--plot needs matplotlib, which is not installed: pip install 'trio-zmq[bench]' "
    "(or pip install matplotlib)"
)


def check_available() -> None:
    """Raise ``SystemExit`` with what to install when matplotlib is missing."""
    if importlib.util.find_spec("matplotlib") is None:
        raise SystemExit(MISSING_MATPLOTLIB)


def relative_speeds(results: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, float]]:
    """``{workload title: {contender: speed relative to the baseline}}``, in run order.

    *results* are the benchmark's result records (``workload``, ``title``,
    ``kind``, ``contender``, ``baseline``, ``median``), as written to its JSON.
    A contender with no measurement, or a workload whose baseline has none,
    is left out.
    """
    medians = {(r["workload"], r["contender"]): r["median"] for r in results}
    speeds: dict[str, dict[str, float]] = {}
    for r in results:
        base = medians.get((r["workload"], r["baseline"]))
        value = r["median"]
        if base is None or not _measured(base) or not _measured(value):
            continue
        speed = base / value if r["kind"] == "latency" else value / base
        speeds.setdefault(r["title"], {})[r["contender"]] = speed
    return speeds


def _measured(value: float) -> bool:
    return not math.isnan(value) and value > 0


def plot(
    results: Sequence[Mapping[str, Any]], path: str, subtitle: str = "", twin_suffix: str = ""
) -> None:
    """Draw the chart of *results* into *path* (the format from its suffix: .svg, .png, .pdf).

    A contender whose name ends with *twin_suffix* (``--against``'s twins) is
    drawn in its original's colour, hatched.
    """
    import matplotlib

    matplotlib.use("Agg")  # no screen needed
    matplotlib.rcParams["svg.fonttype"] = "none"  # text stays text in an SVG
    import matplotlib.pyplot as plt

    def original(contender: str) -> str:
        if twin_suffix and contender.endswith(twin_suffix):
            return contender[: -len(twin_suffix)]
        return contender

    speeds = relative_speeds(results)
    originals: list[str] = []
    for by_contender in speeds.values():
        originals.extend(o for o in map(original, by_contender) if o not in originals)
    palette = plt.get_cmap("tab10" if len(originals) <= 10 else "tab20")
    colours = {name: palette(i % palette.N) for i, name in enumerate(originals)}

    bars = sum(len(v) for v in speeds.values())
    fig, ax = plt.subplots(figsize=(10, 1.2 + 0.2 * bars + 0.25 * len(speeds)))
    labelled: set[str] = set()
    for row, by_contender in enumerate(speeds.values()):
        step = 0.84 / len(by_contender)
        for i, (contender, speed) in enumerate(by_contender.items()):
            y = row - 0.42 + step * (i + 0.5)
            twin = original(contender) != contender
            ax.barh(
                y,
                speed,
                height=step * 0.9,
                color=colours[original(contender)],
                hatch="///" if twin else None,
                edgecolor="white" if twin else None,
                label=None if contender in labelled else contender,
            )
            labelled.add(contender)
            ax.text(speed * 1.05, y, f"{speed:.2f}", va="center", fontsize=7)
    ax.set_xscale("log")
    top = max((max(v.values()) for v in speeds.values()), default=1.0)
    ax.set_xlim(right=max(2.0, top * 2))  # room for the figures at the bars' ends
    ax.axvline(1.0, color="black", linewidth=0.8)
    ax.set_yticks(range(len(speeds)), labels=list(speeds), fontsize=8)
    ax.invert_yaxis()  # the first workload on top, as in the table
    ax.set_xlabel("speed relative to the workload's baseline (log scale; longer is better)")
    heading = "trio-zmq bench: each contender against its workload's baseline"
    ax.set_title(f"{heading}\n{subtitle}" if subtitle else heading, fontsize=10)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    ax.grid(axis="x", which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
