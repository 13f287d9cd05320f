"""Reading from two sockets at once with a Poller: the ZeroMQ Guide's "mspoller".

One task reads tasks from a PULL socket and weather updates from a SUB
socket (subscribed to one zip code), whichever has a message, with
trio_zmq.Poller. Two producer tasks stand in for the Guide's task
ventilator (a PUSH) and weather server (a PUB), so the program finishes by
itself once the reader has seen enough of both.

(In Trio one would usually give each socket its own task; the poller is for
code ported from pyzmq, or that really must see both sockets in one place.)

Run: python examples/mspoller.py
"""

import random

import trio
import zmq

import trio_zmq

TASKS = 20
UPDATES = 20
ZIP_CODE = b"10001"


async def ventilator(push: trio_zmq.Socket) -> None:
    for n in range(TASKS):
        await push.send(b"task %d" % n)
        await trio.sleep(0.002)


async def weather_server(pub: trio_zmq.Socket) -> None:
    while True:  # publishes until cancelled
        zip_code = random.choice([ZIP_CODE, b"10002", b"10003"])
        temperature = random.randrange(-20, 40)
        await pub.send(b"%s %d" % (zip_code, temperature))
        await trio.sleep(0.001)


async def reader(receiver: trio_zmq.Socket, subscriber: trio_zmq.Socket) -> None:
    poller = trio_zmq.Poller()
    poller.register(receiver, zmq.POLLIN)
    poller.register(subscriber, zmq.POLLIN)
    tasks = updates = 0
    while tasks < TASKS or updates < UPDATES:
        for sock, _events in await poller.poll():
            msg = await sock.recv()  # ready, so this does not wait
            if sock is receiver:
                tasks += 1
                print("task:", msg.decode())
            else:
                updates += 1
                print("weather:", msg.decode())
    print(f"got {tasks} tasks and {updates} weather updates")


async def main() -> None:
    async with trio_zmq.Context() as ctx:
        push = ctx.socket(zmq.PUSH)
        pub = ctx.socket(zmq.PUB)
        receiver = ctx.socket(zmq.PULL)
        subscriber = ctx.socket(zmq.SUB, subscribe=ZIP_CODE + b" ")
        receiver.connect(push.bind("tcp://127.0.0.1:*"))
        subscriber.connect(pub.bind("tcp://127.0.0.1:*"))
        async with trio.open_nursery() as nursery:
            nursery.start_soon(ventilator, push)
            nursery.start_soon(weather_server, pub)
            await reader(receiver, subscriber)
            nursery.cancel_scope.cancel()  # the reader is done: stop producing


if __name__ == "__main__":
    trio.run(main)
