"""Print a socket's connection events as they happen.

A client connects to a server over TCP, exchanges one message, and the
server goes away; the monitor prints each event (connect, handshake,
disconnect, reconnect attempts) until the client is closed, which ends the
stream with MONITOR_STOPPED.

Run: python examples/monitor.py
"""

import trio
import zmq

import trio_zmq


async def print_events(
    sock: trio_zmq.Socket,
    retried: trio.Event,
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    async with trio_zmq.open_monitor(sock) as events:
        task_status.started()
        retries = 0
        async for event in events:  # ends after MONITOR_STOPPED
            print(f"{event.event.name:<22} value={event.value:<6} {event.endpoint}")
            if event.event == zmq.Event.CONNECT_RETRIED:
                retries += 1
                if retries == 2:
                    retried.set()


async def main() -> None:
    async with trio_zmq.Context() as ctx, trio.open_nursery() as nursery:
        server = ctx.socket(zmq.ROUTER)
        endpoint = server.bind("tcp://127.0.0.1:*")
        client = ctx.socket(zmq.DEALER, reconnect_ivl=100)
        retried = trio.Event()
        await nursery.start(print_events, client, retried)  # before connect: every event
        client.connect(endpoint)
        await client.send(b"hello")
        peer, message = await server.recv_multipart()
        await server.send_multipart([peer, message.upper()])
        print("client got", await client.recv())
        server.close()  # the client sees DISCONNECTED, then retries
        await retried.wait()  # let a couple of reconnection attempts show up
        client.close()  # MONITOR_STOPPED ends the monitor's loop


if __name__ == "__main__":
    trio.run(main)
