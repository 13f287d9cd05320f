"""A broker with workers: the last step of the tutorial (docs/tutorial.md).

The ZeroMQ Guide's request-reply broker (Chapter 2, "Shared Queue (DEALER
and ROUTER sockets)"), grown with what the tutorial teaches, one piece each:

* the broker is trio_zmq.steerable_proxy between a ROUTER for clients (tcp)
  and a DEALER for workers (inproc), started as a supervised task;
* the ROUTER admits clients by PLAIN user name and password, which
  trio_zmq.auth's authenticator checks (open_authenticator: its block
  encloses everything that uses the secured sockets);
* the workers are tasks that share one DEALER socket through open_channels;
* the clients are REQ sockets that wait a moment for each reply and, made
  with req_relaxed and req_correlate, ask again when it does not come (one
  job stalls on purpose);
* a monitor on the ROUTER reports each client it turned away (one intruder
  tries a wrong password).

When every client has its answers, the program prints the broker's
statistics and stops the rest by cancelling one nursery; the authenticator
stops when its block ends.
Run: python examples/tutorial_broker.py
"""

import itertools

import trio
import zmq

import trio_zmq
import trio_zmq.auth

PASSWORDS = {"ann": "apple", "bob": "banana"}
WORKERS = 3
JOBS = 3
PATIENCE = 0.25  # seconds a client waits for a reply before it asks again
STALLING_JOB = "job 1, try 1"  # a worker takes too long over this one


async def worker(
    name: str,
    requests: trio.MemoryReceiveChannel[list[bytes]],
    replies: trio.MemorySendChannel[list[bytes]],
) -> None:
    async with requests, replies:
        async for *envelope, body in requests:  # envelope: the client's id and request id
            job = body.decode()
            await trio.sleep(2 * PATIENCE if job.endswith(STALLING_JOB) else 0.01)
            await replies.send([*envelope, f"{job}: done by {name}".encode()])


async def worker_pool(
    ctx: trio_zmq.Context,
    endpoint: str,
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    async with ctx.socket(zmq.DEALER) as sock:
        sock.connect(endpoint)
        async with (
            trio_zmq.open_channels(sock, max_buffer_size=16) as (replies, requests),
            trio.open_nursery() as pool,
        ):
            for i in range(WORKERS):
                pool.start_soon(worker, f"worker-{i}", requests.clone(), replies.clone())
            task_status.started()


async def doorman(
    frontend: trio_zmq.Socket,
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    async with trio_zmq.open_monitor(frontend, zmq.EVENT_HANDSHAKE_FAILED_AUTH) as events:
        task_status.started()
        async for event in events:
            print(f"broker: turned a client away ({event.event.name})")


async def client(ctx: trio_zmq.Context, endpoint: str, user: str, password: str) -> None:
    async with ctx.socket(
        zmq.REQ,
        plain_username=user,
        plain_password=password,
        req_relaxed=1,  # a new request may replace one that got no reply...
        req_correlate=1,  # ...and a late reply to the old one is dropped
    ) as sock:
        sock.connect(endpoint)
        for job in range(JOBS):
            for attempt in itertools.count(1):
                await sock.send_string(f"{user}: job {job}, try {attempt}")
                with trio.move_on_after(PATIENCE):
                    print(await sock.recv_string())
                    break
                print(f"{user}: no reply to job {job} in time, asking again")


async def intruder(ctx: trio_zmq.Context, endpoint: str) -> None:
    async with ctx.socket(zmq.REQ, plain_username="eve", plain_password="guess", linger=0) as sock:
        sock.connect(endpoint)
        with trio.move_on_after(4 * PATIENCE):
            await sock.send_string("eve: let me in")
            print(await sock.recv_string())
        print("eve: no way in")


async def main() -> None:
    async with (
        trio_zmq.Context() as ctx,
        trio_zmq.auth.open_authenticator(ctx) as auth,
        trio.open_nursery() as nursery,
    ):
        auth.allow("127.0.0.1")
        auth.configure_plain(domain="*", passwords=PASSWORDS)

        frontend = ctx.socket(zmq.ROUTER, plain_server=True)
        backend = ctx.socket(zmq.DEALER)
        await nursery.start(doorman, frontend)  # before bind, so it sees every handshake
        clients_endpoint = frontend.bind("tcp://127.0.0.1:*")
        workers_endpoint = backend.bind("inproc://workers")
        broker: trio_zmq.ProxyControl = await nursery.start(
            trio_zmq.steerable_proxy, frontend, backend
        )
        await nursery.start(worker_pool, ctx, workers_endpoint)

        async with trio.open_nursery() as clients:
            for user, password in PASSWORDS.items():
                clients.start_soon(client, ctx, clients_endpoint, user, password)
            clients.start_soon(intruder, ctx, clients_endpoint)

        stats = broker.statistics()
        print(f"broker: {stats.frontend.messages_in} frames from clients,")
        print(f"        {stats.backend.messages_in} frames from workers")
        nursery.cancel_scope.cancel()  # the broker, the workers and the monitor


if __name__ == "__main__":
    trio.run(main)
