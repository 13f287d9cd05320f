"""The benchmark's chart: every workload's ratios to its baseline, per contender.

``trio-zmq bench --plot FILE.svg`` draws it after a run, and ``--from-json``
draws it again from a run's saved results. matplotlib is an optional extra
(``pip install trio-zmq[bench]``), imported here only, and looked for before
the benchmark starts, so a missing one costs no measuring time.

The ratios are the table's: one row of bars per workload, one bar per
contender, on a logarithmic axis with the baseline at 1. Throughputs are in
the upper panel, where longer is better; the round trip, a time, is in a
panel of its own below, where shorter is better, as in the table. The
legend sits below both, outside the bars, and no text is smaller than 10
points, so the chart reads at the width of a documentation page.
"""

from __future__ import annotations

import importlib.util
import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

__all__ = ["MISSING_MATPLOTLIB", "check_available", "plot", "ratios"]

MISSING_MATPLOTLIB = (
    "--plot needs matplotlib, which is not installed: pip install 'trio-zmq[bench]' "
    "(or pip install matplotlib)"
)

_TEXT = 10  # points: the smallest text on the chart


def check_available() -> None:
    """Raise ``SystemExit`` with what to install when matplotlib is missing."""
    if importlib.util.find_spec("matplotlib") is None:
        raise SystemExit(MISSING_MATPLOTLIB)


def ratios(results: Sequence[Mapping[str, Any]]) -> dict[str, tuple[str, dict[str, float]]]:
    """``{workload title: (kind, {contender: median / the baseline's median})}``, in run order.

    *results* are the benchmark's result records (``workload``, ``title``,
    ``kind``, ``contender``, ``baseline``, ``median``), as written to its JSON.
    The ratio is the table's: for a throughput above 1 is faster, for a
    latency above 1 is slower. A contender with no measurement, or a workload
    whose baseline has none, is left out.
    """
    medians = {(r["workload"], r["contender"]): r["median"] for r in results}
    found: dict[str, tuple[str, dict[str, float]]] = {}
    for r in results:
        base = medians.get((r["workload"], r["baseline"]))
        value = r["median"]
        if base is None or not _measured(base) or not _measured(value):
            continue
        found.setdefault(r["title"], (r["kind"], {}))[1][r["contender"]] = value / base
    return found


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
    matplotlib.rcParams["font.size"] = _TEXT
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, NullFormatter

    def original(contender: str) -> str:
        if twin_suffix and contender.endswith(twin_suffix):
            return contender[: -len(twin_suffix)]
        return contender

    found = ratios(results)
    originals: list[str] = []
    for _, by_contender in found.values():
        originals.extend(o for o in map(original, by_contender) if o not in originals)
    palette = plt.get_cmap("tab10" if len(originals) <= 10 else "tab20")
    colours = {name: palette(i % palette.N) for i, name in enumerate(originals)}

    panels = [
        (kind, {title: rows for title, (k, rows) in found.items() if k == kind})
        for kind in ("throughput", "latency")
    ]
    panels = [(kind, rows) for kind, rows in panels if rows]
    heights = [0.5 + 0.22 * sum(len(v) for v in rows.values()) for _, rows in panels]
    legend_rows = math.ceil(len({c for _, (_, v) in found.items() for c in v}) / 3)
    fig, axes = plt.subplots(
        len(panels) or 1,
        1,
        figsize=(8, 1.4 + sum(heights) + 0.3 * legend_rows),
        height_ratios=heights or None,
        squeeze=False,
    )
    labelled: set[str] = set()
    for ax, (kind, rows) in zip(axes[:, 0], panels, strict=False):
        for row, by_contender in enumerate(rows.values()):
            step = 0.84 / len(by_contender)
            for i, (contender, ratio) in enumerate(by_contender.items()):
                y = row - 0.42 + step * (i + 0.5)
                twin = original(contender) != contender
                ax.barh(
                    y,
                    ratio,
                    height=step * 0.9,
                    color=colours[original(contender)],
                    hatch="///" if twin else None,
                    edgecolor="white" if twin else None,
                    label=None if contender in labelled else contender,
                )
                labelled.add(contender)
                ax.text(ratio * 1.04, y, f"{ratio:.2f}", va="center", fontsize=_TEXT)
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        top = max((max(v.values()) for v in rows.values()), default=1.0)
        low = min((min(v.values()) for v in rows.values()), default=1.0)
        ax.set_xlim(min(0.5, low / 1.5), max(2.0, top * 2.2))  # room for the figures
        ax.axvline(1.0, color="black", linewidth=0.8)
        ax.set_yticks(range(len(rows)), labels=[_wrap(t) for t in rows], fontsize=_TEXT)
        ax.invert_yaxis()  # the first workload on top, as in the table
        ax.set_xlabel(
            "throughput relative to the workload's baseline (log scale): longer is better"
            if kind == "throughput"
            else "round trip time relative to blocking pyzmq (log scale): shorter is better"
        )
        ax.grid(axis="x", which="both", alpha=0.3)
    heading = "trio-zmq bench: each contender against its workload's baseline"
    fig.suptitle(f"{heading}\n{subtitle}" if subtitle else heading, fontsize=_TEXT + 1)
    handles, labels = [], []
    for ax in axes[:, 0]:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.append(handle)
            labels.append(label)
    fig.legend(handles, labels, loc="lower center", ncol=3, frameon=False, fontsize=_TEXT)
    fig.tight_layout(rect=(0, 0.3 * legend_rows / fig.get_figheight(), 1, 1))
    fig.savefig(path)
    plt.close(fig)


def _wrap(title: str, width: int = 26) -> str:
    """A workload's title on lines of at most about *width* characters."""
    lines = [""]
    for word in title.split():
        if lines[-1] and len(lines[-1]) + 1 + len(word) > width:
            lines.append(word)
        else:
            lines[-1] = f"{lines[-1]} {word}".strip()
    return "\n".join(lines)
