"""Ctrl-C inside a trio_zmq call arrives at a cancel point, not inside pyzmq."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest
import trio
import zmq

import trio_zmq
from trio_zmq import _ki

from .conftest import pair

needs_free_protection = pytest.mark.skipif(
    not _ki.FREE, reason="this Trio wraps KI-protected functions; trio_zmq leaves them unprotected"
)


@needs_free_protection
async def test_socket_calls_are_ki_protected(ctx: trio_zmq.Context) -> None:
    a, b = pair(ctx, zmq.PAIR, zmq.PAIR)
    await a.send(b"x")
    seen: list[bool] = []

    def deserialize(frames: list[bytes]) -> list[bytes]:
        seen.append(trio.lowlevel.currently_ki_protected())  # inside recv_serialized
        return frames

    await b.recv_serialized(deserialize)
    assert seen == [True]
    assert not trio.lowlevel.currently_ki_protected()  # the caller's code is not


WAIT_IN_RECV = """
import signal, sys, trio, zmq, trio_zmq
signal.signal(signal.SIGINT, signal.default_int_handler)

async def main():
    async with trio_zmq.Context(linger=0) as ctx, ctx.socket(zmq.PULL) as sock:
        sock.bind("tcp://127.0.0.1:*")
        print("ready", flush=True)
        await sock.recv()

try:
    trio.run(main)
except KeyboardInterrupt:
    sys.exit(130)
"""


@needs_free_protection
@pytest.mark.timeout_seconds(120)
def test_ctrl_c_stops_a_task_waiting_in_recv_every_time() -> None:
    # Regression: on Python 3.13 a KeyboardInterrupt raised inside pyzmq's
    # compiled code, while it made zmq.Again, was lost about one time in
    # four, and the program slept on.
    for _ in range(20):
        child = subprocess.Popen(
            [sys.executable, "-X", "dev", "-c", WAIT_IN_RECV], stdout=subprocess.PIPE, text=True
        )
        try:
            assert child.stdout is not None
            assert child.stdout.readline() == "ready\n"
            child.send_signal(signal.SIGINT)
            assert child.wait(timeout=10) == 130
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
            if child.stdout is not None:
                child.stdout.close()
