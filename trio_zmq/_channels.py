"""``trio_zmq.open_channels``: a socket seen as a pair of Trio memory channels.

Two *pumps*, tasks in a nursery that the ``async with`` block owns, move
messages between the socket and the channels:

* the **send pump** takes messages from the send channel and sends them;
* the **receive pump** receives messages and puts them into the receive
  channel.

Both move whatever is ready in one go, with the socket's and the channel's
``*_nowait`` twins, and checkpoint once per batch rather than once per message
(subject to the fairness budget of ``_checkpoints.py``). A socket type that
cannot receive or cannot send has no pump for that direction.

Closing the socket must reach the tasks using the channels even when no pump
happens to be inside a socket call, so a third small task, the *close
watcher*, sleeps in ``Socket.wait_closed``: it wakes only when the socket is
closed. It sleeps apart from the tasks waiting on the socket's FD, never
watches the FD and never reads ``EVENTS`` (see ``_readiness.py``), so it
costs the pumps nothing.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import trio
import zmq
from trio.lowlevel import cancel_shielded_checkpoint

from ._groups import unwrap_groups
from ._kinds import LOCKSTEP, RECEIVE_ONLY, SEND_ONLY
from ._runs import current_run_life
from ._socket import Socket

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

__all__ = ["open_channels"]

Message = list[bytes]


# The message that tells the send pump to stop once everything before it has
# been sent. Compared by identity; users cannot get hold of it.
_FLUSH: Message = []


@asynccontextmanager
async def open_channels(
    sock: Socket, max_buffer_size: float = 0
) -> AsyncIterator[
    tuple[trio.MemorySendChannel[list[bytes]], trio.MemoryReceiveChannel[list[bytes]]]
]:
    """Use *sock* through a pair of Trio memory channels.

    Yields ``(send_channel, receive_channel)``. A multipart message given to
    ``send_channel`` is sent on the socket; every message the socket receives
    comes out of ``receive_channel``, as a ``list[bytes]``. ``.clone()`` the
    channels to let many tasks send into, or receive from, one socket. The
    channels are pumped by tasks in a nursery that the block owns.

    .. code-block:: python

        async with trio_zmq.open_channels(dealer) as (send_channel, receive_channel):
            await send_channel.send([b"", b"request"])
            reply = await receive_channel.receive()

    A socket type that cannot receive (PUB, PUSH) yields a receive channel
    that is already finished (``receive`` raises ``trio.EndOfChannel``); one
    that cannot send (SUB, PULL) yields a send channel whose ``send`` raises
    ``trio.BrokenResourceError``.

    Leaving the block:

    * **normally**: first sends every message ``send_channel`` has already
      accepted (a ``send`` that returned, whether the message waits in the
      buffer or with the pump), waiting for the socket as long as it takes;
      then stops the pumps. Bound the wait with ``trio.move_on_after`` around
      the block if the peer may be gone.
    * **with an exception, or cancelled**: stops the pumps at once. Messages
      still in the send channel's buffer are dropped. A message is never
      half sent.

    On every exit, normal ones included, messages that the receive pump
    already took from the socket and that no task received are dropped: at
    most ``max_buffer_size + 1`` (the buffer, and the one the pump holds
    while it waits for a receiver). The receive pump reads ahead so that a
    receiver never waits on the socket; receive what you need before
    leaving, or use the socket's own ``recv`` where no message may be lost.

    Afterwards sends raise ``trio.BrokenResourceError`` (or
    ``trio.ClosedResourceError`` on the two yielded objects, which the block
    closes) and receives end once the buffer is empty.

    When the socket is closed (by any task), ``receive_channel`` ends: its
    iteration stops once the messages already buffered are taken. Sends then
    raise ``trio.BrokenResourceError``; messages still buffered for sending
    are dropped.

    Args:
        sock: the socket; the channels do not close it.
        max_buffer_size: the size of each channel's buffer, in messages, as
            in ``trio.open_memory_channel``. ``0``: a send waits until the
            pump takes the message.

    Raises:
        zmq.ZMQError: an error of the socket, for example ``EFSM`` when a
            REQ socket is given two requests in a row. It stops the pumps and
            cancels the block.
        TypeError: *sock* is not a ``trio_zmq.Socket``, or a message given to
            the send channel is not a list of bytes-like frames (raised out of
            the block, from the send pump).

    An exception that is the only one raised in the block (from the body or a
    pump) comes out as itself, not wrapped in an ExceptionGroup; so does a
    cancellation from outside (one ``trio.Cancelled``, not a group of them).
    """
    if not isinstance(sock, Socket):
        raise TypeError(
            f"open_channels() takes a trio_zmq.Socket, not {type(sock).__name__}; "
            "wrap a pyzmq socket with trio_zmq.Socket.from_socket(sock)"
        )
    if sock.closed:
        raise trio.ClosedResourceError("open_channels() needs an open socket")
    socket_type = int(sock.socket_type)
    out_send: trio.MemorySendChannel[Message]
    out_receive: trio.MemoryReceiveChannel[Message]
    in_send: trio.MemorySendChannel[Message]
    in_receive: trio.MemoryReceiveChannel[Message]
    out_send, out_receive = trio.open_memory_channel(max_buffer_size)
    in_send, in_receive = trio.open_memory_channel(max_buffer_size)
    sends = socket_type not in RECEIVE_ONLY
    receives = socket_type not in SEND_ONLY
    flush_send = out_send.clone()  # ours alone: a user closing theirs never ends the pump
    sent_all = trio.Event()
    try:
        with unwrap_groups():
            async with trio.open_nursery() as nursery:
                if receives:
                    nursery.start_soon(
                        _receive_pump, sock, in_send, socket_type in LOCKSTEP, out_receive
                    )
                else:
                    in_send.close()
                if sends:
                    nursery.start_soon(_send_pump, sock, out_receive, sent_all)
                    nursery.start_soon(_close_watcher, sock, out_receive)
                else:
                    out_receive.close()
                    sent_all.set()
                yield out_send, in_receive
                # A normal exit (an exception from the body skips this):
                # the flush marker queues behind every accepted message.
                if sends:
                    try:
                        await flush_send.send(_FLUSH)
                    except trio.BrokenResourceError:
                        pass  # the socket was closed: nothing can be sent
                    else:
                        await sent_all.wait()
                nursery.cancel_scope.cancel()
    finally:
        for channel in (flush_send, out_send, out_receive, in_send, in_receive):
            channel.close()


async def _receive_pump(
    sock: Socket,
    channel: trio.MemorySendChannel[Message],
    lockstep: bool,
    send_side: trio.MemoryReceiveChannel[Message],
) -> None:
    """Socket to channel, until the socket closes or every receiver is gone.

    On the socket's close it also ends the send side (*send_side*), so that a
    task that sees its receive channel end cannot then have a send accepted.
    """
    recv_now = sock.recv_multipart_nowait
    put_now = channel.send_nowait
    life = current_run_life()
    with channel:
        try:
            while True:
                if lockstep:
                    # Ask EVENTS first: a REQ (or REP) receive out of turn is
                    # an EFSM error, and EVENTS says when it is our turn.
                    await sock.poll(None, zmq.POLLIN)
                    try:
                        msg = recv_now()
                    except trio.WouldBlock:
                        continue  # another task took it
                else:
                    msg = await sock.recv_multipart()
                # Move the burst that is already there without waiting:
                # one checkpoint per batch, not per message.
                while True:
                    try:
                        put_now(msg)
                        if next(life.ticks):
                            await trio.lowlevel.checkpoint()
                    except trio.WouldBlock:
                        await channel.send(msg)  # waits for a receiver or room
                    if lockstep:
                        break
                    try:
                        msg = recv_now()
                    except trio.WouldBlock:
                        break
        except trio.ClosedResourceError:
            # The socket was closed: receivers see the end of the channel.
            send_side.close()
            return
        except trio.BrokenResourceError:
            return  # every receive channel was closed: nobody wants messages


async def _send_pump(
    sock: Socket, channel: trio.MemoryReceiveChannel[Message], sent_all: trio.Event
) -> None:
    """Channel to socket, until the flush marker, the socket's close, or the end."""
    send_now = sock.send_multipart_nowait
    take_now = channel.receive_nowait
    life = current_run_life()
    try:
        with channel:
            while True:
                msg = await channel.receive()
                while True:
                    if msg is _FLUSH:
                        return
                    try:
                        send_now(msg)
                    except trio.WouldBlock:
                        await sock.send_multipart(msg)  # waits for the socket
                    else:
                        if next(life.ticks):
                            # Sent: too late to be cancelled (as in Socket.send).
                            await cancel_shielded_checkpoint()
                    try:
                        msg = take_now()
                    except trio.WouldBlock:
                        break
    except (trio.ClosedResourceError, trio.EndOfChannel):
        # The socket was closed (the channel is closed with it, so senders
        # see BrokenResourceError), or the channel was ended some other way.
        return
    finally:
        sent_all.set()


async def _close_watcher(sock: Socket, channel: trio.MemoryReceiveChannel[Message]) -> None:
    """Close the send side as soon as the socket is closed, pump busy or not.

    It sleeps apart, in ``Socket.wait_closed``: it never watches the FD for
    the socket's other waiters, and wakes only for the close.
    """
    await sock.wait_closed()
    channel.close()
