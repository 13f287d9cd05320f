"""Ironhouse: CURVE on both sides, the server admitting clients by certificate.

Every party has a certificate made with ``trio_zmq.auth.create_certificates``
(pyzmq's format; unlike ``zmq.auth.create_certificates``, it keeps each
secret file readable by its owner only).
The server knows its own secret key and a directory holding the public
certificates of the clients it accepts; each client knows its own secret key
and the server's public key. Traffic is encrypted and both ends are
authenticated. A client whose certificate is not in the directory is turned
away before anything it sends reaches the server.

The certificates live in a temporary directory removed at the end.
Run: python examples/ironhouse.py
"""

import logging
import shutil
import tempfile
from pathlib import Path

import trio
import zmq
import zmq.auth

import trio_zmq
from trio_zmq.auth import create_certificates, open_authenticator


def make_certificates(base: Path) -> tuple[Path, Path]:
    """keys/ holds every certificate; trusted/ only the trusted client's public one."""
    keys, trusted = base / "keys", base / "trusted"
    keys.mkdir()
    trusted.mkdir()
    for name in ("server", "client", "stranger"):
        create_certificates(keys, name)  # name.key (public), name.key_secret (mode 0600)
    shutil.copy(keys / "client.key", trusted)
    return keys, trusted


def curve_options(
    keys: Path, name: str, server_public: bytes | None = None
) -> dict[str, bytes | bool | None]:
    """Socket options for *name*'s certificate; a client also names the server's key."""
    public, secret = zmq.auth.load_certificate(keys / f"{name}.key_secret")
    if server_public is None:
        return {"curve_secretkey": secret, "curve_publickey": public, "curve_server": True}
    return {"curve_secretkey": secret, "curve_publickey": public, "curve_serverkey": server_public}


async def server(
    ctx: trio_zmq.Context,
    keys: Path,
    *,
    task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED,
) -> None:
    async with ctx.socket(zmq.REP, **curve_options(keys, "server")) as rep:
        task_status.started(rep.bind("tcp://127.0.0.1:*"))
        while True:
            request = await rep.recv(copy=False)
            # libzmq tags each message with the User-Id the authenticator gave.
            print(f"server: {request.bytes.decode()!r} from {request.get('User-Id')}")
            await rep.send(b"welcome, " + request.bytes)


async def client(ctx: trio_zmq.Context, keys: Path, name: str, endpoint: str, count: int) -> None:
    server_public, _ = zmq.auth.load_certificate(keys / "server.key")
    async with ctx.socket(zmq.REQ, **curve_options(keys, name, server_public)) as req:
        req.connect(endpoint)
        for i in range(count):
            await req.send_string(f"{name} #{i}")
            print(f"{name}: {await req.recv_string()!r}")


async def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    with tempfile.TemporaryDirectory() as tmp:
        keys, trusted = make_certificates(Path(tmp))
        # The authenticator starts before any secured socket binds or connects.
        async with (
            trio_zmq.Context(linger=0) as ctx,
            open_authenticator(ctx) as auth,
            trio.open_nursery() as nursery,
        ):
            auth.allow("127.0.0.1")
            auth.configure_curve(domain="*", location=trusted)
            endpoint: str = await nursery.start(server, ctx, keys)

            await client(ctx, keys, "client", endpoint, count=3)

            # The stranger's handshake is denied (see the trio_zmq.auth log),
            # so its request never reaches the server and no reply comes.
            with trio.move_on_after(1):
                await client(ctx, keys, "stranger", endpoint, count=1)
            print("stranger: no reply, as expected")
            nursery.cancel_scope.cancel()


if __name__ == "__main__":
    trio.run(main)
