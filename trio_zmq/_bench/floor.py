"""The Trio floor: the loop any Trio user could write in 30 lines.

Raw pyzmq calls without blocking; when one would block, ``EVENTS`` is read
and the task waits in ``trio.lowlevel.wait_readable`` on the socket's FD;
a checkpoint every 64 calls, so that a busy loop still lets other tasks run.
It has none of trio_zmq's guarantees: no cancel point per call, one task per
socket, no check of the run, no multipart atomicity, no close that wakes a
waiter. Blocking pyzmq waits inside libzmq, which no Trio program can do, so
this loop is the fastest a Trio program gets, and trio_zmq is measured
against it.

``FloorSocket`` and ``open_pump`` are everything: the code below is the
floor, written as a user would, and the benchmark runs it as it stands.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, cast

import trio
import zmq

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

__all__ = ["FloorSocket", "open_pump"]


class FloorSocket:
    """A pyzmq socket with an async ``send`` and ``recv`` for one task."""

    def __init__(self, sock: zmq.Socket[Any]) -> None:
        self.sock, self.fd, self.calls = sock, sock.FD, 0

    async def send(self, msg: bytes) -> None:
        while True:
            try:
                self.sock.send(msg, zmq.NOBLOCK)
            except zmq.Again:
                await self._wait(zmq.POLLOUT)
                continue
            self.calls += 1
            if self.calls % 64 == 0:
                await trio.lowlevel.checkpoint()
            return

    async def recv(self) -> bytes:
        while True:
            try:
                msg: bytes = self.sock.recv(zmq.NOBLOCK)
            except zmq.Again:
                await self._wait(zmq.POLLIN)
                continue
            self.calls += 1
            if self.calls % 64 == 0:
                await trio.lowlevel.checkpoint()
            return msg

    async def recv_multipart(self) -> list[bytes]:
        """A whole message, as a channel of messages carries it (see :func:`open_pump`)."""
        while True:
            try:
                msg: list[bytes] = self.sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                await self._wait(zmq.POLLIN)
                continue
            self.calls += 1
            if self.calls % 64 == 0:
                await trio.lowlevel.checkpoint()
            return msg

    async def _wait(self, event: int) -> None:
        # The FD is edge-triggered: it fires when EVENTS changes, and reading
        # EVENTS re-arms it. So: look first, and wait only if it is not there.
        while not cast("int", self.sock.get(zmq.EVENTS)) & event:
            await trio.lowlevel.wait_readable(self.fd)


@asynccontextmanager
async def open_pump(
    sock: FloorSocket, size: int
) -> AsyncIterator[trio.MemoryReceiveChannel[list[bytes]]]:
    """A task that moves every message *sock* receives into a memory channel of *size*.

    Whole messages, each a list of frames, as ``trio_zmq.open_channels``
    moves them, received with pyzmq's ``recv_multipart``.
    """
    send_channel, receive_channel = trio.open_memory_channel[list[bytes]](size)

    async def pump() -> None:
        while True:
            msg = await sock.recv_multipart()
            try:
                send_channel.send_nowait(msg)  # no schedule point while there is room
            except trio.WouldBlock:
                await send_channel.send(msg)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(pump)
        yield receive_channel
        nursery.cancel_scope.cancel()
