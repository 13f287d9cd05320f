"""``trio-zmq bench``: the options, and a run from start to end."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

import trio
import zmq

from . import plot, runner
from .report import goals, markdown, report
from .runner import AGAINST, Result
from .workloads import WORKLOADS

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["add_arguments", "main", "run_from_arguments"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The benchmark's options, on *parser* (``trio-zmq bench`` and the package's own)."""
    parser.add_argument(
        "--quick", action="store_true", help="small counts, 2 rounds: under a minute"
    )
    parser.add_argument("--rounds", type=int, help="rounds per contender (default 5, quick 2)")
    parser.add_argument(
        "--only",
        action="append",
        metavar="WORKLOAD",
        choices=[w.name for w in WORKLOADS],
        help=f"run only this workload (repeatable): {', '.join(w.name for w in WORKLOADS)}",
    )
    parser.add_argument("--json", default="bench-results.json", help="where to write the results")
    parser.add_argument(
        "--plot",
        metavar="FILE",
        help="also draw a chart of every workload's ratios per contender into FILE "
        "(.svg, .png or .pdf; needs matplotlib: pip install 'trio-zmq[bench]')",
    )
    parser.add_argument(
        "--markdown",
        action="store_true",
        help="also print the results as Markdown tables: a summary of trio_zmq's ratios, "
        "then every result",
    )
    parser.add_argument(
        "--from-json",
        metavar="RESULTS",
        help="measure nothing: print the table (and draw --plot) from the RESULTS file "
        "of an earlier run",
    )
    parser.add_argument(
        "--against",
        metavar="TREE",
        help="also run another trio_zmq, from the source tree TREE (a checkout's root), "
        f"as contenders named '...{AGAINST}': before and after a change, in one run",
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark as ``python -m trio_zmq._bench``."""
    parser = argparse.ArgumentParser(prog="trio-zmq bench", description="The benchmark.")
    add_arguments(parser)
    return run_from_arguments(parser.parse_args(argv))


def _versions() -> dict[str, str]:
    return {
        "python": sys.version.split()[0],
        "trio": trio.__version__,
        "pyzmq": zmq.__version__,
        "libzmq": zmq.zmq_version(),
    }


def _subtitle(versions: dict[str, str], date: str = "") -> str:
    listed = ", ".join(f"{name} {version}" for name, version in versions.items())
    return f"{date}: {listed}" if date else listed


def _show(results: Sequence[Result], args: argparse.Namespace) -> None:
    print(report(results))
    print()
    print(goals(results))
    if args.markdown:
        print()
        print(markdown(results))


def _records(results: Sequence[Result]) -> list[dict[str, Any]]:
    return [asdict(r) | {"median": r.median} for r in results]


def _replot(args: argparse.Namespace) -> int:
    """``--from-json``: the table, and the chart if asked for, from saved results."""
    with open(args.from_json) as f:
        saved = json.load(f)
    fields = {"workload", "title", "kind", "contender", "baseline", "values", "stalled", "floor"}
    results = [Result(**{k: v for k, v in r.items() if k in fields}) for r in saved["results"]]
    _show(results, args)
    if args.plot:
        subtitle = _subtitle(saved.get("versions", {}), saved.get("date", ""))
        plot.plot(_records(results), args.plot, subtitle, AGAINST)
        print(f"chart written to {args.plot}")
    return 0


def run_from_arguments(args: argparse.Namespace) -> int:
    """``trio-zmq bench``: run the benchmark, print the table, write JSON; 0 on success."""
    if args.plot:
        plot.check_available()  # before any measuring
    if args.from_json:
        return _replot(args)
    against = os.path.abspath(args.against) if args.against else None
    rounds = args.rounds or (2 if args.quick else 5)
    workloads = [w for w in WORKLOADS if not args.only or w.name in args.only]
    started = time.perf_counter()
    results = runner.run(workloads, rounds, args.quick, against)
    _show(results, args)
    memory = runner.measure_memory(2_000 if args.quick else 10_000)
    growth = runner.measure_stream_growth(100_000 if args.quick else 1_000_000)
    print(
        f"memory: an idle trio_zmq socket costs {memory['extra_bytes']:.0f} B of Python memory "
        f"beyond pyzmq's own ({memory['trio_zmq_bytes']:.0f} B vs {memory['pyzmq_bytes']:.0f} B); "
        f"a stream of messages keeps {growth:.0f} B per million"
    )
    print(f"took {time.perf_counter() - started:.0f} s")
    versions, date = _versions(), time.strftime("%Y-%m-%d")
    with open(args.json, "w") as f:
        json.dump(
            {
                "results": _records(results),
                "memory": memory,
                "stream_growth_bytes_per_million": growth,
                "versions": versions,
                "date": date,
            },
            f,
            indent=2,
        )
    print(f"results written to {args.json}")
    if args.plot:
        plot.plot(_records(results), args.plot, _subtitle(versions, date), AGAINST)
        print(f"chart written to {args.plot}")
    return 0
