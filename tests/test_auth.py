"""What ``trio_zmq.auth`` offers: exactly its ``__all__``, under its own name.

The work is done, and tested, elsewhere: the wire format in ``test_zap.py``,
certificate files in ``test_auth_certs.py``, the policy in
``test_auth_policy.py``, the ZAP handler in ``test_auth_server.py``.
"""

from __future__ import annotations

import inspect

import zmq
import zmq.auth

import trio_zmq
from trio_zmq import _auth_certs, _auth_server, _zap


def test_trio_zmq_auth_exports_exactly_its_all() -> None:
    # "@py_builtins" and the like: pytest rewrites the asserts of every module
    # of a package that registers a pytest plugin, as trio_zmq does.
    public = {name for name in vars(trio_zmq.auth) if not name.startswith(("_", "@"))}
    assert public == set(trio_zmq.auth.__all__)
    for helper in ("logger", "hmac", "logging", "annotations", "zmq", "trio", "Policy"):
        assert not hasattr(trio_zmq.auth, helper), helper


def test_the_public_auth_names_show_as_trio_zmq_auth() -> None:
    for name in trio_zmq.auth.__all__:
        value = getattr(trio_zmq.auth, name)
        if isinstance(value, (str, int, float)):  # the constants
            continue
        assert value.__module__ == "trio_zmq.auth", name
    assert repr(trio_zmq.auth.Decision).startswith("<class 'trio_zmq.auth.Decision'")


def test_the_re_exported_names_are_the_private_modules_objects() -> None:
    assert trio_zmq.auth.Authenticator is _auth_server.Authenticator
    assert trio_zmq.auth.open_authenticator is _auth_server.open_authenticator
    assert trio_zmq.auth.create_certificates is _auth_certs.create_certificates
    assert trio_zmq.auth.ZAP_ENDPOINT == _zap.ZAP_ENDPOINT == "inproc://zeromq.zap.01"
    assert trio_zmq.auth.CURVE_ALLOW_ANY == zmq.auth.CURVE_ALLOW_ANY


def test_the_documented_bounds_are_the_defaults() -> None:
    assert trio_zmq.auth.DEFAULT_MAX_DECISIONS == 1000
    assert trio_zmq.auth.DEFAULT_DECISION_TIMEOUT == 10.0
    for function in (trio_zmq.auth.open_authenticator, trio_zmq.auth.serve_authenticator):
        parameters = inspect.signature(function).parameters
        assert parameters["max_decisions"].default == trio_zmq.auth.DEFAULT_MAX_DECISIONS
        assert parameters["decision_timeout"].default == trio_zmq.auth.DEFAULT_DECISION_TIMEOUT


def test_the_authenticator_is_reached_as_trio_zmq_auth() -> None:
    assert trio_zmq.auth.open_authenticator is _auth_server.open_authenticator
    assert "auth" in trio_zmq.__all__
