"""A broker with workers, and its tests: the "Testing your services" page (docs/testing.md).

The service is the ZeroMQ Guide's load-balancing broker (Chapter 3, as in
examples/lbbroker.py): workers are REQ sockets that say READY, a worker gets
a job only while it is free, one at a time, and its reply says it is free
again. Clients are Lazy Pirates: REQ sockets that ask again when a reply is
late.

The tests run it under faults, with pytest, pytest-trio and the pytest
plugin that comes with trio_zmq (fixtures zmq_context and zmq_endpoint), and
trio_zmq.testing.open_link between the clients and the broker:

* a worker vanishes in the middle of a job, and the client's next try is
  done by another worker;
* a partition, which the client's ZMTP heartbeats notice and its monitor
  shows as a disconnect; after the heal, jobs go through again;
* a slow link: the client's sends wait at its high-water mark, and what it
  has in flight stays bounded.

Run: python examples/testing_broker.py (the file runs pytest on itself)
"""

from __future__ import annotations

import math
import sys
from collections.abc import Awaitable, Callable

import pytest
import trio
import trio.testing
import zmq

import trio_zmq
from trio_zmq.testing import Endpoints, open_link

# ----------------------------------------------------------------------
# The service

READY = b"READY"  # what a worker says when it is free to take a job
PATIENCE = 0.25  # seconds a client waits for a reply before it asks again

Work = Callable[[bytes], Awaitable[bytes]]  # what a worker does with a job


async def broker(
    ctx: trio_zmq.Context,
    clients: str,
    workers: str,
    *,
    task_status: trio.TaskStatus[tuple[str, str]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Hand each client's job to a free worker, and each reply back to its client.

    Binds a ROUTER for the clients to *clients* and one for the workers to
    *workers*, and reports the two endpoints it bound (ports filled in).
    """
    async with (
        ctx.socket(zmq.ROUTER) as frontend,
        ctx.socket(zmq.ROUTER) as backend,
        trio.open_nursery() as nursery,
    ):
        endpoints = frontend.bind(clients), backend.bind(workers)
        # The routing ids of the free workers, in the order they became free.
        # A worker is in it at most once, so it never holds more than there
        # are workers: no bound is needed.
        free_send, free_receive = trio.open_memory_channel[bytes](math.inf)
        nursery.start_soon(hand_out_jobs, frontend, backend, free_receive)
        nursery.start_soon(pass_replies_back, backend, frontend, free_send)
        task_status.started(endpoints)


async def hand_out_jobs(
    frontend: trio_zmq.Socket,
    backend: trio_zmq.Socket,
    free: trio.MemoryReceiveChannel[bytes],
) -> None:
    async for worker_id in free:  # a free worker first; meanwhile, jobs wait in the frontend
        job = await frontend.recv_multipart()  # the client's envelope, then its job
        await backend.send_multipart([worker_id, b"", *job])


async def pass_replies_back(
    backend: trio_zmq.Socket,
    frontend: trio_zmq.Socket,
    free: trio.MemorySendChannel[bytes],
) -> None:
    async for worker_id, _, *reply in backend:
        free.send_nowait(worker_id)  # a READY or a reply: the worker is free
        if reply != [READY]:
            await frontend.send_multipart(reply)  # the client's envelope, then the reply


async def worker(
    ctx: trio_zmq.Context,
    endpoint: str,
    work: Work,
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Tell the broker at *endpoint* that this worker is free, then do one job after another."""
    async with ctx.socket(zmq.REQ) as sock:
        sock.connect(endpoint)
        await sock.send(READY)
        task_status.started()
        while True:
            *envelope, job = await sock.recv_multipart()  # the client's envelope, then the job
            await sock.send_multipart([*envelope, await work(job)])  # and free again


async def do(job: bytes) -> bytes:
    return job + b" done"


def new_client(ctx: trio_zmq.Context, **options: int) -> trio_zmq.Socket:
    """A client's socket: a REQ that may ask again, and drops late replies to old tries."""
    return ctx.socket(zmq.REQ, req_relaxed=1, req_correlate=1, **options)


async def ask(client: trio_zmq.Socket, job: bytes) -> tuple[bytes, int]:
    """Send *job* until a reply comes within PATIENCE; the reply, and how many tries it took."""
    tries = 0
    while True:
        tries += 1
        await client.send(job)
        with trio.move_on_after(PATIENCE):
            return await client.recv(), tries


# ----------------------------------------------------------------------
# The tests


async def test_a_job_whose_worker_vanishes_is_done_by_another_worker(
    zmq_context: trio_zmq.Context, zmq_endpoint: Endpoints
) -> None:
    took_it = trio.Event()

    async def take_it_and_hang(job: bytes) -> bytes:
        took_it.set()
        await trio.sleep_forever()  # until the test makes this worker vanish

    async def flaky_then_steady(workers: str) -> None:
        async with trio.open_nursery() as flaky:
            await flaky.start(worker, zmq_context, workers, take_it_and_hang)
            await took_it.wait()
            flaky.cancel_scope.cancel()  # it vanishes: its socket closes, the job unanswered
        await worker(zmq_context, workers, do)  # the steady worker starts only now

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            clients, workers = await nursery.start(
                broker, zmq_context, zmq_endpoint("tcp"), zmq_endpoint("ipc")
            )
            nursery.start_soon(flaky_then_steady, workers)
            client = new_client(zmq_context)
            client.connect(clients)
            reply, tries = await ask(client, b"job 1")
            nursery.cancel_scope.cancel()
    assert reply == b"job 1 done"
    assert tries >= 2  # the first try went down with the flaky worker


HEARTBEATS = {"heartbeat_ivl": 100, "heartbeat_timeout": 400}  # milliseconds
# A PING every interval, and the connection is given up when its answer is
# late by the timeout; and two seconds' room for a busy machine.
NOTICED_WITHIN = (HEARTBEATS["heartbeat_ivl"] + HEARTBEATS["heartbeat_timeout"]) / 1000 + 2.0


async def next_event(events: trio_zmq.MonitorEvents, wanted: zmq.Event) -> None:
    """Wait for the next *wanted* event, skipping the others."""
    async for event in events:
        if event.event == wanted:
            return
    raise AssertionError(f"the socket closed before {wanted.name}")


async def test_heartbeats_notice_a_partition_and_jobs_go_through_after_the_heal(
    zmq_context: trio_zmq.Context, zmq_endpoint: Endpoints
) -> None:
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            clients, workers = await nursery.start(
                broker, zmq_context, zmq_endpoint("tcp"), zmq_endpoint("ipc")
            )
            await nursery.start(worker, zmq_context, workers, do)
            client = new_client(zmq_context, **HEARTBEATS)
            async with open_link(clients) as link, trio_zmq.open_monitor(client) as events:
                client.connect(link.endpoint)
                reply, _ = await ask(client, b"job 1")
                assert reply == b"job 1 done"

                link.partition()
                with trio.fail_after(NOTICED_WITHIN):
                    await next_event(events, zmq.Event.DISCONNECTED)

                link.heal()
                reply, _ = await ask(client, b"job 2")
                assert reply == b"job 2 done"
            nursery.cancel_scope.cancel()


JOB_SIZE = 64 * 1024  # bytes
JOBS = 64  # 4 MiB in all
RATE = 4_000_000  # bytes per second, each way: the upload needs about a second
SNDHWM = 4  # jobs the client's socket queues before a send waits
IN_THE_WIRES = 1024 * 1024  # generous: bytes the kernel's buffers between client and broker hold


async def weigh(job: bytes) -> bytes:
    return b"%d bytes" % len(job)


async def test_a_slow_link_paces_the_client_and_bounds_what_it_has_in_flight(
    zmq_context: trio_zmq.Context, zmq_endpoint: Endpoints
) -> None:
    sent = 0

    async def upload(client: trio_zmq.Socket) -> None:
        nonlocal sent
        for _ in range(JOBS):
            await client.send(bytes(JOB_SIZE))
            sent += 1

    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            clients, workers = await nursery.start(
                broker, zmq_context, zmq_endpoint("tcp"), zmq_endpoint("ipc")
            )
            for _ in range(2):
                await nursery.start(worker, zmq_context, workers, weigh)
            # A DEALER asks without waiting for each reply; sndbuf fixes its
            # kernel buffer's size (the kernel would grow it otherwise).
            client = zmq_context.socket(zmq.DEALER, sndhwm=SNDHWM, sndbuf=64 * 1024)
            async with open_link(clients, rate=RATE) as link:
                client.connect(link.endpoint)
                started = trio.current_time()
                nursery.start_soon(upload, client)

                assert await client.recv() == b"%d bytes" % JOB_SIZE
                await trio.testing.wait_all_tasks_blocked()
                assert client.statistics().tasks_waiting_send == 1  # upload waits for room
                in_flight = [sent - 1]
                for answered in range(2, JOBS + 1):
                    await client.recv()
                    in_flight.append(sent - answered)

                elapsed = trio.current_time() - started
                carried = link.statistics().bytes_forward
            nursery.cancel_scope.cancel()
    assert max(in_flight) <= SNDHWM + IN_THE_WIRES // JOB_SIZE
    assert carried > JOBS * JOB_SIZE  # every job crossed the link...
    assert elapsed >= 0.9 * JOBS * JOB_SIZE / RATE  # ...at the link's pace


if __name__ == "__main__":
    # As a program (as `nox -s examples` runs it), the file runs pytest on itself.
    options = ["-q", "-p", "no:cacheprovider", "-o", "trio_mode=true"]
    # This process imported trio_zmq before pytest could mark it for assertion
    # rewriting, as pytest marks every package that brings a plugin; the
    # asserts of this file, imported by pytest, are rewritten all the same.
    options += ["-W", "ignore::pytest.PytestAssertRewriteWarning"]
    sys.exit(pytest.main([__file__, *options, *sys.argv[1:]]))
