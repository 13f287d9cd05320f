"""trio_zmq in an AnyIO program running on the Trio backend.

AnyIO's task groups and cancel scopes are Trio's nurseries and cancel scopes
on this backend, so trio_zmq's calls behave exactly as under ``trio.run``:
every call is a cancel point, and a cancelled receive takes nothing. (On
AnyIO's asyncio backend, use ``zmq.asyncio`` instead.)

A REP worker and a REQ client share one program; a deadline from
``anyio.move_on_after`` cancels a receive that nothing will answer.
Run: python examples/anyio_backend.py
"""

from __future__ import annotations

import anyio
import anyio.abc
import zmq

import trio_zmq


async def worker(
    ctx: trio_zmq.Context, *, task_status: anyio.abc.TaskStatus[str] = anyio.TASK_STATUS_IGNORED
) -> None:
    async with ctx.socket(zmq.REP) as rep:
        task_status.started(rep.bind("inproc://worker"))
        while True:
            request = await rep.recv_string()
            await rep.send_string(f"{request} done")


async def main() -> None:
    with anyio.fail_after(10):
        async with trio_zmq.Context() as ctx, anyio.create_task_group() as tg:
            endpoint = await tg.start(worker, ctx)
            async with ctx.socket(zmq.REQ) as req:
                req.connect(endpoint)
                for job in ("parse", "index", "store"):
                    await req.send_string(job)
                    print(await req.recv_string())

            async with ctx.socket(zmq.PULL) as idle:
                idle.bind("inproc://nobody-sends-here")
                with anyio.move_on_after(0.1) as scope:
                    await idle.recv()
                print("receive cancelled:", scope.cancelled_caught)
            tg.cancel_scope.cancel()  # stop the worker


if __name__ == "__main__":
    anyio.run(main, backend="trio")
