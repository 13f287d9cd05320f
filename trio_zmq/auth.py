"""ZeroMQ authentication (ZAP, RFC 27) as a task in a Trio nursery.

libzmq asks whoever is bound to ``inproc://zeromq.zap.01`` in a socket's
context whether a peer may complete its handshake (CURVE keys, PLAIN
passwords, the peer's IP address). This module answers those requests::

    async with trio_zmq.auth.open_authenticator(ctx) as auth:
        auth.allow("127.0.0.1", "10.0.0.0/8")
        auth.configure_curve(domain="*", location="public_keys")
        ...  # make and use secured sockets of ctx here

or, in a nursery you already have,
``auth = await nursery.start(trio_zmq.auth.serve_authenticator, ctx)``.

The policy methods are those of pyzmq's ``zmq.auth.Authenticator``;
:ref:`from-pyzmq-auth` lists where they differ, and what to do. Every decision is logged on
the ``trio_zmq.auth`` logger, at ``INFO`` (``WARNING`` for status 300 and
malformed requests, ``ERROR`` for 500), with the decision attached to the
log record as ``record.zap_decision`` (a :class:`Decision`). Certificates
are pyzmq's: make them with :func:`create_certificates` (which, unlike
pyzmq's, keeps the secret file private) and read them with
``zmq.auth.load_certificate(path)``.

Nothing a peer, a callback or a certificate directory holds stops the
authenticator: an exception while deciding, whatever its message, denies
the peer with status 500, is logged, and the next handshake is served. At
most ``max_decisions`` handshakes are decided at once
(:data:`DEFAULT_MAX_DECISIONS`), each within ``decision_timeout`` seconds
(:data:`DEFAULT_DECISION_TIMEOUT`); past either, the peer is answered 300,
"temporary error", and libzmq closes the connection (the client reconnects
and asks again).

Where libzmq does not ask at all, no policy applies:

* NULL (no security) handshakes of a socket without a ``zap_domain``:
  libzmq lets them in without asking, so :meth:`~Authenticator.allow` and
  :meth:`~Authenticator.deny` do not protect such a socket. Give the
  server socket a domain (``zap_domain=b"global"``) to have them asked.
* CURVE handshakes while no authenticator runs in the context, before it
  starts or after it stops: a libzmq CURVE server accepts a client with any
  key (it still encrypts). ``zap_enforce_domain=1`` on the server does not
  change that, unless the socket has a ``zap_domain`` too. PLAIN servers
  refuse everyone then.
* Connections made before the authenticator starts: they stay connected,
  and are not asked about.

So start the authenticator before a secured socket binds or connects, and
keep it running for as long as such sockets are open.
"""

# Where the code is: this public module only re-exports; the work is in
# trio_zmq._zap (the wire format), trio_zmq._auth_certs (certificate files),
# trio_zmq._auth_policy (the decisions) and trio_zmq._auth_server (serving
# and logging), whose internals can change without touching what this
# module offers: exactly __all__ (tests/test_auth.py checks it).

# No `from __future__ import annotations` here: it would bind a public name.
# `import X as X` marks each name as a deliberate re-export for type checkers.
from ._auth_certs import create_certificates as create_certificates
from ._auth_policy import CURVE_ALLOW_ANY as CURVE_ALLOW_ANY
from ._auth_policy import CredentialsProvider as CredentialsProvider
from ._auth_server import DEFAULT_DECISION_TIMEOUT as DEFAULT_DECISION_TIMEOUT
from ._auth_server import DEFAULT_MAX_DECISIONS as DEFAULT_MAX_DECISIONS
from ._auth_server import Authenticator as Authenticator
from ._auth_server import Decision as Decision
from ._auth_server import open_authenticator as open_authenticator
from ._auth_server import serve_authenticator as serve_authenticator
from ._zap import ZAP_ENDPOINT as ZAP_ENDPOINT

__all__ = [
    "CURVE_ALLOW_ANY",
    "DEFAULT_DECISION_TIMEOUT",
    "DEFAULT_MAX_DECISIONS",
    "ZAP_ENDPOINT",
    "Authenticator",
    "CredentialsProvider",
    "Decision",
    "create_certificates",
    "open_authenticator",
    "serve_authenticator",
]

# Public names show as trio_zmq.auth.X, not as the private module's (as
# trio_zmq/__init__.py does for its own): stable in docs, reprs and pickles.
for _name in __all__:
    _obj = globals()[_name]
    if getattr(_obj, "__module__", "").startswith("trio_zmq._"):
        _obj.__module__ = __name__
del _name, _obj
