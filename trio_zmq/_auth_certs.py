"""CURVE certificates on disk: a directory read as the path it names, keys checked, secrets private.

The files are pyzmq's (and czmq's): ``NAME.key`` holds a public key,
``NAME.key_secret`` the pair, each as a ``public-key = "..."`` (and
``secret-key = "..."``) line of Z85 text. pyzmq's ``load_certificates``
hands ``directory + "/*.key"`` to ``glob``, so a directory whose name holds
``[``, ``*`` or ``?`` is read as a pattern (``certs[1]`` reads ``certs1``);
and it takes whatever follows ``public-key =`` as a key. Here the directory
is listed (:func:`os.scandir`) and its names compared by suffix, and every
key is checked before any is used: one bad file refuses the whole
directory, with an error that names the file, so that a configuration
either holds exactly the keys its files say or is not made.

pyzmq's ``create_certificates`` writes the secret file with the process's
default mode, readable by all (0644) under the usual umask;
:func:`create_certificates` creates it readable by its owner only (0600),
from the first byte on.

Nothing here knows about ZAP, Trio or sockets: the policy reads a
directory through :func:`read_public_keys`, and shows paths through
:func:`shown_path`.
"""

from __future__ import annotations

import datetime
import os
import struct
from typing import TYPE_CHECKING, Final

import zmq
from zmq.utils import z85

if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import TypeAlias

    #: A file system path, as ``os`` takes it: text or bytes, or a path object.
    AnyPath: TypeAlias = str | bytes | os.PathLike[str] | os.PathLike[bytes]

__all__ = [
    "KEY_SUFFIX",
    "MAX_CERTIFICATE_BYTES",
    "Z85_KEY_LENGTH",
    "check_z85_key",
    "create_certificates",
    "read_public_keys",
    "shown_path",
]

#: The suffix of a public certificate's file name (czmq's and pyzmq's).
KEY_SUFFIX: Final = b".key"

#: A CURVE key in Z85: 40 characters, for 32 bytes.
Z85_KEY_LENGTH: Final = 40

#: The most a certificate file may hold; a real one holds a few hundred bytes.
MAX_CERTIFICATE_BYTES: Final = 64 * 1024

_Z85_ALPHABET: Final = frozenset(z85.Z85CHARS)

_PUBLIC_BANNER: Final = """\
#   ****  Generated on {now} by trio_zmq  ****
#   ZeroMQ CURVE Public Certificate
#   Exchange securely, or use a secure mechanism to verify the contents
#   of this file after exchange.

"""

_SECRET_BANNER: Final = """\
#   ****  Generated on {now} by trio_zmq  ****
#   ZeroMQ CURVE **Secret** Certificate
#   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions.

"""


def shown_path(path: AnyPath) -> str:
    """*path* as text that always prints and encodes.

    A byte that is not UTF-8 (legal in a Linux file name) shows as ``\\xff``;
    ``os.fsdecode`` would make it a lone surrogate, which UTF-8 cannot carry.
    """
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def check_z85_key(key: bytes, where: str) -> bytes:
    """*key* itself, if it is a CURVE key in Z85: 40 characters that decode to 32 bytes.

    Raises:
        ValueError: it is not, with *where* (the file it came from) named.
    """
    if len(key) != Z85_KEY_LENGTH:
        raise ValueError(
            f"{where}: a CURVE key in Z85 has {Z85_KEY_LENGTH} characters, "
            f"not {len(key)} ({key[:Z85_KEY_LENGTH]!r})"
        )
    if not _Z85_ALPHABET.issuperset(key):
        raise ValueError(f"{where}: {key!r} holds characters that are not Z85")
    try:
        decoded = z85.decode(key)
    except struct.error:  # a group of five characters worth more than 32 bits
        raise ValueError(f"{where}: {key!r} is not a Z85 encoding of 32 bytes") from None
    if len(decoded) != 32:
        raise ValueError(f"{where}: {key!r} is not a Z85 encoding of 32 bytes")
    return key


def _public_key_in(path: bytes) -> bytes:
    """The one public key of the certificate file at *path*, checked."""
    where = shown_path(path)
    try:
        with open(path, "rb") as file:
            content = file.read(MAX_CERTIFICATE_BYTES + 1)
    except OSError as exc:
        raise OSError(exc.errno, f"cannot read the certificate {where}: {exc.strerror}") from exc
    if len(content) > MAX_CERTIFICATE_BYTES:
        raise ValueError(f"{where}: over {MAX_CERTIFICATE_BYTES} bytes, too long for a certificate")
    keys = set()
    for raw_line in content.splitlines():
        line = raw_line.strip()
        if line.startswith(b"#"):
            continue
        name, equals, value = line.partition(b"=")
        if equals and name.strip() == b"public-key":
            keys.add(check_z85_key(value.strip().strip(b"\"'"), where))
    if not keys:
        raise ValueError(f'{where}: no public-key = "..." line; not a CURVE certificate')
    if len(keys) > 1:
        raise ValueError(f"{where}: {len(keys)} different public keys; a certificate holds one")
    return keys.pop()


def read_public_keys(directory: AnyPath) -> frozenset[bytes]:
    """The Z85 public keys of the certificates in *directory*, every one checked.

    *directory* is the literal path of a directory, never a pattern. Its
    certificates are the entries whose names end in ``.key`` (not
    ``.key_secret``) and do not start with a dot, as pyzmq's ``*.key``
    selects them; subdirectories are not read.

    Raises:
        OSError: *directory* is not a directory that can be listed, or a
            certificate cannot be read; the message names it.
        ValueError: an entry is not a file, or holds no valid public key
            (see :func:`check_z85_key`); the message names it.
    """
    root = os.fsencode(directory)
    try:
        with os.scandir(root) as entries:
            found = sorted(
                (entry.name, entry.is_file())
                for entry in entries
                if entry.name.endswith(KEY_SUFFIX) and not entry.name.startswith(b".")
            )
    except OSError as exc:
        raise OSError(
            exc.errno,
            f"cannot read the certificate directory {shown_path(root)}: {exc.strerror}",
        ) from exc
    keys = set()
    for name, is_file in found:
        path = os.path.join(root, name)
        if not is_file:
            raise ValueError(
                f"{shown_path(path)}: not a file, yet named as a certificate; "
                "move it out of the certificate directory"
            )
        keys.add(_public_key_in(path))
    return frozenset(keys)


def _write_certificate(
    path: str, banner: str, public: bytes, secret: bytes | None, metadata: Mapping[str, str]
) -> None:
    lines = [banner, "metadata\n"]
    lines += [f"    {key} = {value}\n" for key, value in metadata.items()]
    lines += ["curve\n", f'    public-key = "{public.decode("ascii")}"\n']
    if secret is not None:
        lines.append(f'    secret-key = "{secret.decode("ascii")}"\n')
    # O_EXCL: never truncate an existing file, which would keep its mode,
    # and never replace a key that something may still use.
    mode = 0o600 if secret is not None else 0o644
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with open(fd, "w", encoding="utf-8") as file:
        file.writelines(lines)


def create_certificates(
    key_dir: str | os.PathLike[str], name: str, metadata: Mapping[str, str] | None = None
) -> tuple[str, str]:
    """Make a CURVE key pair and write it as ``NAME.key`` and ``NAME.key_secret``.

    As pyzmq's ``zmq.auth.create_certificates``, in the same format (pyzmq's
    ``load_certificate`` reads the files), except that the secret file is
    created readable and writable by its owner only (mode 0600; pyzmq's is
    readable by all under the usual umask), and that neither file may exist
    yet: a key is never overwritten.

    Args:
        key_dir: an existing directory.
        name: the files' name, without suffix; not a path.
        metadata: written to the secret certificate, as pyzmq does.

    Returns:
        The paths of the public and the secret certificate.

    Raises:
        FileExistsError: a certificate of that name is already there:
            remove it first, or choose another name.
        ValueError: *name* is empty or holds a path separator.
    """
    if not name or name in (".", "..") or os.sep in name or (os.altsep and os.altsep in name):
        raise ValueError(
            f"create_certificates() takes a file name without a directory, not {name!r}"
        )
    base = os.path.join(os.fspath(key_dir), name)
    public_file, secret_file = f"{base}.key", f"{base}.key_secret"
    for path in (public_file, secret_file):
        if os.path.lexists(path):
            raise FileExistsError(
                f"{shown_path(path)} exists: remove it first (a key is never overwritten), "
                "or choose another name"
            )
    public, secret = zmq.curve_keypair()
    now = datetime.datetime.now()
    _write_certificate(secret_file, _SECRET_BANNER.format(now=now), public, secret, metadata or {})
    try:
        _write_certificate(public_file, _PUBLIC_BANNER.format(now=now), public, None, {})
    except BaseException:
        os.unlink(secret_file)  # all or nothing
        raise
    return public_file, secret_file
