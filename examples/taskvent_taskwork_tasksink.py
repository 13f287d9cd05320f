"""Divide and conquer: a ventilator, worker tasks and a sink (the Guide's pipeline).

The ventilator PUSHes tasks (a number of milliseconds to "work"); ZeroMQ
deals them round robin to the workers, which PULL a task, sleep that long,
and PUSH a result to the sink. The sink PULLs every result and reports how
long the batch took: with four workers, about a quarter of the total work.
Run: python examples/taskvent_taskwork_tasksink.py
"""

import random

import trio
import zmq

import trio_zmq

WORKERS = 4
TASKS = 40
TASKS_ENDPOINT = "inproc://tasks"
RESULTS_ENDPOINT = "inproc://results"


async def taskwork(
    ctx: trio_zmq.Context,
    number: int,
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    async with ctx.socket(zmq.PULL) as receiver, ctx.socket(zmq.PUSH) as sender:
        receiver.connect(TASKS_ENDPOINT)
        sender.connect(RESULTS_ENDPOINT)
        task_status.started()
        async for (workload,) in receiver:  # one task per message
            await trio.sleep(int(workload) / 1000)  # the 'work'
            await sender.send_string(str(number))


async def taskvent(sender: trio_zmq.Socket) -> None:
    total = 0
    for _ in range(TASKS):
        workload = random.randint(1, 20)
        total += workload
        await sender.send_string(str(workload))
    print(f"ventilator: sent {TASKS} tasks, {total} ms of work in all")


async def tasksink(receiver: trio_zmq.Socket, start: float) -> None:
    done_by = [0] * WORKERS
    for _ in range(TASKS):
        done_by[int(await receiver.recv_string())] += 1
    elapsed = trio.current_time() - start
    print(f"sink: {TASKS} results in {elapsed * 1000:.0f} ms")
    print(f"sink: tasks done by each worker: {done_by}")


async def main() -> None:
    async with (
        trio_zmq.Context() as ctx,
        ctx.socket(zmq.PUSH) as ventilator,
        ctx.socket(zmq.PULL) as sink,
        trio.open_nursery() as nursery,
    ):
        ventilator.bind(TASKS_ENDPOINT)
        sink.bind(RESULTS_ENDPOINT)
        # Start every worker before sending: PUSH deals only to the workers
        # connected when it sends (the Guide's "slow joiner" caveat).
        for number in range(WORKERS):
            await nursery.start(taskwork, ctx, number)
        start = trio.current_time()
        await taskvent(ventilator)
        await tasksink(sink, start)
        nursery.cancel_scope.cancel()  # the batch is done: stop the workers


if __name__ == "__main__":
    trio.run(main)
