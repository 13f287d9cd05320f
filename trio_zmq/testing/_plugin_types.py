"""The types of the pytest plugin's fixtures, importable without pytest."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from .._socket import Socket
    from ._endpoints import Transport

__all__ = ["PairMaker"]


class PairMaker(Protocol):
    """What the ``zmq_pair`` fixture is: ``await zmq_pair(bind_type, connect_type, ...)``."""

    def __call__(
        self, bind_type: int, connect_type: int, transport: Transport = ..., **options: Any
    ) -> Awaitable[tuple[Socket, Socket]]: ...
