"""Weather updates: a publisher and a subscriber that filters by topic.

The server publishes random weather updates for random zip codes on a PUB
socket; the client subscribes to one zip code only and averages the
temperature over a few of its updates. ZeroMQ does the filtering: updates
for other zip codes never reach the client's task.
Run: python examples/wuserver_wuclient.py
"""

import os
import random
import tempfile

import trio
import zmq

import trio_zmq

ZIP_CODE = "10001"  # the client's filter
UPDATES = 5  # how many of its updates the client averages


async def wuserver(
    ctx: trio_zmq.Context,
    endpoint: str,
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    async with ctx.socket(zmq.PUB) as publisher:
        publisher.bind(endpoint)
        task_status.started()
        while True:
            # Zip codes 10000 to 10009, so the client's comes up often.
            zipcode = random.randrange(10000, 10010)
            temperature = random.randrange(-80, 135)
            humidity = random.randrange(10, 60)
            await publisher.send_string(f"{zipcode} {temperature} {humidity}")
            await trio.sleep(0.001)  # a real server would wait for sensor data


async def wuclient(ctx: trio_zmq.Context, endpoint: str) -> None:
    async with ctx.socket(zmq.SUB) as subscriber:
        subscriber.subscribe(ZIP_CODE)  # only messages starting with this
        subscriber.connect(endpoint)
        # A subscriber misses what is published before it is connected and
        # subscribed ("slow joiner"): fine for weather updates.
        total = 0
        for _ in range(UPDATES):
            zipcode, temperature, humidity = (await subscriber.recv_string()).split()
            print(f"client: {zipcode} is at {temperature} F, {humidity}% humidity")
            total += int(temperature)
        print(f"client: average temperature for {ZIP_CODE} was {total / UPDATES:.1f} F")


async def main() -> None:
    # The ipc file goes in /tmp when it can: libzmq refuses ipc paths longer
    # than 107 bytes, and TMPDIR can be long (nox points it into the checkout).
    with tempfile.TemporaryDirectory(dir="/tmp" if os.access("/tmp", os.W_OK) else None) as tmp:
        endpoint = f"ipc://{os.path.join(tmp, 'weather')}"
        async with trio_zmq.Context() as ctx, trio.open_nursery() as nursery:
            await nursery.start(wuserver, ctx, endpoint)
            await wuclient(ctx, endpoint)
            nursery.cancel_scope.cancel()  # stop publishing


if __name__ == "__main__":
    trio.run(main)
