"""The README's promises: its example runs as printed."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, cast

README = Path(__file__).resolve().parent.parent / "README.md"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)


def test_the_readme_example_runs_and_prints_the_echoes() -> None:
    example = _python_blocks()[0]
    assert len(example.strip().splitlines()) <= 25  # "a 20-line example", give or take
    done = subprocess.run(
        [sys.executable, "-X", "dev", "-W", "error", "-c", example],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [f"hello {i}" for i in range(4)]


def test_the_readme_broker_in_ten_lines_brokers() -> None:
    (broker_code,) = [block for block in _python_blocks() if "async def broker" in block]
    assert len(broker_code.strip().splitlines()) <= 10
    import trio
    import zmq

    import trio_zmq

    namespace: dict[str, object] = {"trio": trio, "zmq": zmq, "trio_zmq": trio_zmq}
    exec(broker_code, namespace)
    broker = cast("Callable[..., Awaitable[Any]]", namespace["broker"])

    async def main() -> None:
        with trio.fail_after(10):
            async with trio_zmq.Context(linger=0) as ctx, trio.open_nursery() as nursery:
                control = await nursery.start(broker, ctx, "inproc://front", "inproc://back")
                async with ctx.socket(zmq.REQ) as client, ctx.socket(zmq.REP) as worker:
                    client.connect("inproc://front")
                    worker.connect("inproc://back")
                    await client.send(b"job")
                    await worker.send(await worker.recv() + b" done")
                    assert await client.recv() == b"job done"
                assert control.statistics().frontend.messages_in >= 1
                nursery.cancel_scope.cancel()

    trio.run(main)
