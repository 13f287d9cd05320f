"""trio_zmq talking to blocking pyzmq in another process."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import trio
import zmq

import trio_zmq

ECHO_SERVER = textwrap.dedent(
    """
    import sys, zmq
    ctx = zmq.Context()
    rep = ctx.socket(zmq.REP)
    rep.bind("tcp://127.0.0.1:*")
    print(rep.last_endpoint.decode(), flush=True)
    while True:
        msg = rep.recv_multipart()
        rep.send_multipart(msg)
        if msg == [b"quit"]:
            break
    rep.close(linger=1000)
    ctx.term()
    """
)

PUSHER = textwrap.dedent(
    """
    import sys, zmq
    ctx = zmq.Context()
    push = ctx.socket(zmq.PUSH)
    push.connect(sys.argv[1])
    for i in range(int(sys.argv[2])):
        push.send_multipart([b"%d" % i, b"x" * (i % 300)])
    push.close(linger=-1)
    ctx.term()
    """
)


async def test_trio_zmq_req_against_a_blocking_pyzmq_rep_process(
    ctx: trio_zmq.Context,
) -> None:
    proc = await trio.lowlevel.open_process(
        [sys.executable, "-c", ECHO_SERVER], stdout=subprocess.PIPE
    )
    assert proc.stdout is not None
    try:
        line = b""
        while not line.endswith(b"\n"):
            line += await proc.stdout.receive_some(100)
        req = ctx.socket(zmq.REQ)
        req.connect(line.decode().strip())
        for i in range(200):
            await req.send_multipart([b"hello", b"%d" % i])
            assert await req.recv_multipart() == [b"hello", b"%d" % i]
        await req.send(b"quit")
        assert await req.recv() == b"quit"
        assert await proc.wait() == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await proc.stdout.aclose()


async def test_blocking_pyzmq_push_process_into_trio_zmq_pull(ctx: trio_zmq.Context) -> None:
    pull = ctx.socket(zmq.PULL, rcvhwm=10)
    endpoint = pull.bind("tcp://127.0.0.1:*")
    count = 5000
    async with trio.open_nursery() as nursery:
        nursery.start_soon(trio.run_process, [sys.executable, "-c", PUSHER, endpoint, str(count)])
        for i in range(count):
            seq, body = await pull.recv_multipart()
            assert (seq, body) == (b"%d" % i, b"x" * (i % 300))
