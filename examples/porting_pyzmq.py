"""Hello world with a deadline, in blocking pyzmq: where the porting pages start.

The ZeroMQ Guide's first example (Chapter 1, hwserver and hwclient), with a
deadline on every reply. The server runs in a thread of its own; the client,
in the main thread, waits at most a second for each reply (RCVTIMEO). When
the client is done, terminating the context wakes the server's blocking
recv with ContextTerminated, and waits until the server has closed its
socket.

docs/from-pyzmq.md puts this program next to porting_trio.py, the same
program in trio_zmq; porting_asyncio.py is the zmq.asyncio version.
Run: python examples/porting_pyzmq.py
"""

import threading

import zmq

REQUESTS = 3


def server(sock: zmq.Socket[bytes]) -> None:
    with sock:
        try:
            while True:
                sock.recv()
                sock.send(b"World")
        except zmq.ContextTerminated:
            pass  # the main thread is leaving its context


def main() -> None:
    ctx = zmq.Context()
    rep = ctx.socket(zmq.REP)
    rep.bind("tcp://127.0.0.1:*")
    endpoint = rep.getsockopt_string(zmq.LAST_ENDPOINT)
    thread = threading.Thread(target=server, args=(rep,))  # the socket moves to the thread
    thread.start()
    with ctx.socket(zmq.REQ) as client:
        client.connect(endpoint)
        client.rcvtimeo = 1000  # ms; recv raises zmq.Again after that
        for request in range(1, REQUESTS + 1):
            client.send(b"Hello")
            try:
                reply = client.recv()
            except zmq.Again:
                print("no reply within a second")
                break
            print(f"request {request}: {reply!r}")
    ctx.term()  # returns once the server thread has closed its socket
    thread.join()


if __name__ == "__main__":
    main()
