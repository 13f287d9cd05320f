"""The benchmark's runner: contenders side by side, including another tree's trio_zmq."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from trio_zmq._bench import main, plot, runner

ROOT = Path(__file__).resolve().parent.parent


def test_against_runs_another_trees_trio_zmq_beside_this_one(
    tmp_path: Path, capsys: object
) -> None:
    results = tmp_path / "bench.json"
    argv = ["--quick", "--rounds", "1", "--only", "reqrep", "--json", str(results)]
    assert main([*argv, "--against", str(ROOT)]) == 0
    contenders = {r["contender"] for r in json.loads(results.read_text())["results"]}
    assert contenders >= {"pyzmq", "trio_zmq", "trio_zmq @against"}
    assert "pyzmq @against" not in contenders  # only trio_zmq's contenders get a twin


def _record(
    workload: str, kind: str, contender: str, baseline: str, median: float
) -> dict[str, Any]:
    return {
        "workload": workload,
        "title": workload.upper(),
        "kind": kind,
        "contender": contender,
        "baseline": baseline,
        "values": [median],
        "stalled": 0,
        "median": median,
    }


RECORDS = [
    _record("tcp", "throughput", "pyzmq", "pyzmq", 1000.0),
    _record("tcp", "throughput", "trio_zmq", "pyzmq", 500.0),
    _record("tcp", "throughput", "trio_zmq @against", "pyzmq", 250.0),
    _record("rtt", "latency", "pyzmq", "pyzmq", 100.0),
    _record("rtt", "latency", "trio_zmq", "pyzmq", 125.0),
    _record("rtt", "latency", "stalled", "pyzmq", float("nan")),
]


def test_the_charts_ratios_are_the_tables_the_round_trip_a_time_ratio() -> None:
    assert plot.ratios(RECORDS) == {
        "TCP": ("throughput", {"pyzmq": 1.0, "trio_zmq": 0.5, "trio_zmq @against": 0.25}),
        # 125 us against 100 us: 1.25, above 1 is slower, as the table says.
        "RTT": ("latency", {"pyzmq": 1.0, "trio_zmq": 1.25}),
    }


def test_plot_from_saved_results_draws_an_svg(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    saved = tmp_path / "results.json"
    saved.write_text(json.dumps({"results": RECORDS, "versions": {"trio": "x"}}))
    chart = tmp_path / "chart.svg"
    assert main(["--from-json", str(saved), "--plot", str(chart)]) == 0
    text = chart.read_text()
    assert "<svg" in text
    assert "TCP" in text  # text stays text: the chart can be searched and read
    assert "trio_zmq @against" in text  # a twin has its own legend entry


def test_plot_without_matplotlib_says_what_to_install_before_measuring(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    measured: list[object] = []

    def run(*args: object) -> list[object]:
        measured.append(args)
        return []

    monkeypatch.setattr(runner, "run", run)
    with pytest.raises(SystemExit, match=r"pip install 'trio-zmq\[bench\]'"):
        main(["--quick", "--plot", str(tmp_path / "chart.svg")])
    assert measured == []


_THREADS_OF_A_PINNED_WORKER = """
import json, os, sys
import zmq
from trio_zmq._bench.workers import _pin
_pin(0, batch=sys.argv[1] == "batch")
ctx = zmq.Context()
sock = ctx.socket(zmq.PUSH)  # libzmq starts its threads with the first socket
tids = [int(t) for t in os.listdir("/proc/self/task")]
print(json.dumps({
    "threads": len(tids),
    "main": os.sched_getscheduler(0),
    "policies": sorted({os.sched_getscheduler(t) for t in tids}),
    "cores": sorted({c for t in tids for c in os.sched_getaffinity(t)}),
}))
sock.close()
ctx.term()
"""


@pytest.mark.skipif(
    not (hasattr(os, "SCHED_BATCH") and Path("/proc/self/task").is_dir()),
    reason="Linux's scheduling policies",
)
@pytest.mark.parametrize("batch", [True, False])
def test_a_pinned_worker_places_libzmqs_threads_with_it(batch: bool) -> None:
    """The page's account of the 64 KiB rounds rests on this: libzmq's I/O
    thread, started after the worker pins itself, shares its core and its policy."""
    out = subprocess.run(
        [sys.executable, "-c", _THREADS_OF_A_PINNED_WORKER, "batch" if batch else "default"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    seen = json.loads(out)
    assert seen["threads"] >= 3  # Python's, libzmq's I/O thread and its reaper
    if batch and seen["main"] != os.SCHED_BATCH:
        pytest.skip("this machine refuses SCHED_BATCH (the worker carries on without it)")
    assert seen["policies"] == [os.SCHED_BATCH if batch else os.sched_getscheduler(0)]
    allowed = os.sched_getaffinity(0)
    if (os.cpu_count() or 1) > 1 and len(allowed) > 1 and 0 in allowed:
        assert seen["cores"] == [0]
