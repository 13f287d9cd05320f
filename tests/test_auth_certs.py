"""CURVE certificate files (trio_zmq._auth_certs): read literally, checked, written private."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
import zmq
import zmq.auth

from trio_zmq._auth_certs import check_z85_key, read_public_keys, shown_path
from trio_zmq.auth import create_certificates

from .helpers import short_temp_dir


def write_key(path: Path | bytes, key: bytes | str) -> None:
    text = key if isinstance(key, str) else key.decode("ascii")
    with open(path, "w", encoding="utf-8") as file:
        file.write(f'#   a certificate\nmetadata\ncurve\n    public-key = "{text}"\n')


def public_key() -> bytes:
    return zmq.curve_keypair()[0]


def test_a_directory_whose_name_is_a_glob_pattern_is_read_as_the_directory_it_names(
    tmp_path: Path,
) -> None:
    literal, lookalike = tmp_path / "certs[1]", tmp_path / "certs1"
    literal.mkdir()
    lookalike.mkdir()
    mine, stranger = public_key(), public_key()
    write_key(literal / "client.key", mine)
    write_key(lookalike / "stranger.key", stranger)
    assert read_public_keys(literal) == {mine}
    assert read_public_keys(str(literal)) == {mine}


@pytest.mark.parametrize(
    ("content", "why"),
    [
        ('public-key = "hello"', "40 characters, not 5"),
        ('public-key = ""', "40 characters, not 0"),
        ('public-key = "' + "~" * 40 + '"', "not Z85"),
        ('public-key = "' + "#" * 40 + '"', "not a Z85 encoding of 32 bytes"),
        ("metadata\ncurve\n", "no public-key"),
        ("public-key\n", "no public-key"),
    ],
    ids=["hello", "empty", "not z85", "over 32 bits a group", "no key", "no equals sign"],
)
def test_a_certificate_without_a_valid_key_is_refused_with_its_name(
    tmp_path: Path, content: str, why: str
) -> None:
    write_key(tmp_path / "good.key", public_key())
    (tmp_path / "junk.key").write_text(content + "\n")
    with pytest.raises(ValueError, match=why) as info:
        read_public_keys(tmp_path)
    assert str(tmp_path / "junk.key") in str(info.value)


def test_a_certificate_with_two_different_keys_is_refused(tmp_path: Path) -> None:
    first, second = public_key().decode(), public_key().decode()
    (tmp_path / "two.key").write_text(f'public-key = "{first}"\npublic-key = "{second}"\n')
    with pytest.raises(ValueError, match="2 different public keys"):
        read_public_keys(tmp_path)


def test_an_entry_named_as_a_certificate_that_is_no_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "subdir.key").mkdir()
    with pytest.raises(ValueError, match="not a file"):
        read_public_keys(tmp_path)


def test_only_dot_key_files_not_hidden_are_read(tmp_path: Path) -> None:
    mine = public_key()
    write_key(tmp_path / "client.key", mine)
    write_key(tmp_path / "client.key_secret", public_key())
    write_key(tmp_path / ".hidden.key", public_key())
    (tmp_path / "notes.txt").write_text("not a certificate\n")
    write_key(tmp_path / "nested.d", public_key())
    assert read_public_keys(tmp_path) == {mine}


def test_a_file_too_long_to_be_a_certificate_is_refused(tmp_path: Path) -> None:
    (tmp_path / "big.key").write_bytes(b"#" * (65 * 1024))
    with pytest.raises(ValueError, match="too long"):
        read_public_keys(tmp_path)


@pytest.mark.parametrize("kind", ["missing", "a file"])
def test_a_location_that_is_no_directory_is_refused_with_its_name(
    tmp_path: Path, kind: str
) -> None:
    location = tmp_path / "location"
    if kind == "a file":
        location.write_text("")
    with pytest.raises(OSError, match="cannot read the certificate directory") as info:
        read_public_keys(location)
    assert str(location) in str(info.value)
    assert info.value.errno is not None


def test_a_directory_name_that_is_not_utf_8_is_read_and_shown_with_escapes() -> None:
    with short_temp_dir() as root:
        directory = os.fsencode(root) + b"/certs\xff"
        os.mkdir(directory)
        mine = public_key()
        write_key(directory + b"/client.key", mine)
        assert read_public_keys(directory) == {mine}
        assert read_public_keys(os.fsdecode(directory)) == {mine}
        shown = shown_path(os.fsdecode(directory))
        assert shown.endswith("/certs\\xff")
        shown.encode("utf-8")


def test_a_z85_key_is_forty_characters_that_decode_to_32_bytes() -> None:
    key = public_key()
    assert check_z85_key(key, "here") is key
    with pytest.raises(ValueError, match="^there: a CURVE key in Z85 has 40 characters, not 41"):
        check_z85_key(key + b"0", "there")


# ----------------------------------------------------------------------
# Writing certificates


def test_create_certificates_writes_the_secret_readable_by_its_owner_only(tmp_path: Path) -> None:
    public_file, secret_file = create_certificates(tmp_path, "server")
    assert (public_file, secret_file) == (
        str(tmp_path / "server.key"),
        str(tmp_path / "server.key_secret"),
    )
    assert stat.S_IMODE(os.stat(secret_file).st_mode) & 0o077 == 0
    assert stat.S_IMODE(os.stat(secret_file).st_mode) & 0o600 == 0o600
    assert stat.S_IMODE(os.stat(public_file).st_mode) & 0o044 == 0o044 & ~current_umask()


def current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def test_created_certificates_are_pyzmqs_and_read_back(tmp_path: Path) -> None:
    public_file, secret_file = create_certificates(tmp_path, "client", {"name": "alice"})
    public, no_secret = zmq.auth.load_certificate(public_file)
    same_public, secret = zmq.auth.load_certificate(secret_file)
    assert no_secret is None
    assert public == same_public
    assert secret is not None
    assert zmq.curve_public(secret) == public
    assert "name = alice" in Path(secret_file).read_text()
    assert read_public_keys(tmp_path) == {public}


def test_create_certificates_never_overwrites_a_key(tmp_path: Path) -> None:
    _, secret_file = create_certificates(tmp_path, "server")
    before = Path(secret_file).read_text()
    with pytest.raises(FileExistsError, match="never overwritten"):
        create_certificates(tmp_path, "server")
    assert Path(secret_file).read_text() == before
    os.unlink(tmp_path / "server.key")  # half a pair left: still refused
    with pytest.raises(FileExistsError, match="server.key_secret"):
        create_certificates(tmp_path, "server")


@pytest.mark.parametrize("name", ["", "sub/server", "..", "."])
def test_create_certificates_takes_a_name_not_a_path(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError, match="file name without a directory"):
        create_certificates(tmp_path, name)
