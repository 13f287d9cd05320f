"""The benchmark's runner: contenders side by side, including another tree's trio_zmq."""

from __future__ import annotations

import json
from pathlib import Path

from trio_zmq._bench import main

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
