"""The rejects key and AES-256-GCM payloads (common/rejects_key.py), without a database."""

from __future__ import annotations

import base64
import os
import stat

import pytest

from dlt_pipelines.common import rejects_key as rk
from dlt_pipelines.common.errors import ConfigError
from dlt_pipelines.common.logs import redact

ROW = {"FirstName": "Ludmila", "LastName": "Vondráčková", "Birthdate": "2011-09-01T00:00:00"}
AAD = rk.associated_data("aeries-1", "aeries", "students")


@pytest.fixture
def no_key(monkeypatch, tmp_path):
    monkeypatch.delenv(rk.KEY_ENV, raising=False)
    monkeypatch.delenv("SCHOOLDATA__REJECTS_KEY", raising=False)
    monkeypatch.setenv("SCHOOLDATA_LOCAL_DIR", str(tmp_path / "local"))
    return tmp_path / "local" / "keys" / "rejects.key"


def new_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def test_round_trip_and_what_breaks_it(no_key, monkeypatch):
    monkeypatch.setenv(rk.KEY_ENV, new_key())
    key = rk.load_key()
    blob = rk.encrypt(key, ROW, AAD)
    plain = rk.json.dumps(ROW, ensure_ascii=False, separators=(",", ":")).encode()
    assert blob[:1] == b"\x01" and len(blob) == 1 + 12 + len(plain) + 16
    assert b"Ludmila" not in blob and b"Vondr" not in blob
    assert rk.encrypt(key, ROW, AAD) != blob  # a fresh nonce every time
    assert rk.decrypt(key, blob, AAD) == ROW
    with pytest.raises(rk.WrongKeyError, match="does not decrypt"):
        rk.decrypt(key, blob, rk.associated_data("aeries-2", "aeries", "students"))
    with pytest.raises(rk.WrongKeyError, match="does not decrypt"):
        rk.decrypt(rk.RejectsKey(os.urandom(32), "test"), blob, AAD)
    tampered = blob[:-1] + bytes([blob[-1] ^ 1])
    with pytest.raises(rk.WrongKeyError):
        rk.decrypt(key, tampered, AAD)
    assert not no_key.exists(), "a configured key never writes a key file"


def test_key_sources_in_order_and_the_key_is_masked_in_logs(no_key, monkeypatch):
    from_env, from_secrets = new_key(), new_key()
    monkeypatch.setenv("SCHOOLDATA__REJECTS_KEY", from_secrets)  # dlt secrets via its env provider
    key = rk.load_key()
    assert key.origin.startswith("dlt secrets") and base64.b64encode(key.key).decode() == from_secrets
    monkeypatch.setenv(rk.KEY_ENV, from_env)
    key = rk.load_key()
    assert key.origin.startswith("the environment") and base64.b64encode(key.key).decode() == from_env
    assert from_env not in redact(f"oops {from_env}") and from_secrets not in redact(from_secrets)
    assert len(key.key_id) == 16 and key.key_id not in from_env and "key=" not in repr(key)


@pytest.mark.parametrize("bad", ["not-a-key", base64.b64encode(b"short").decode(), "@@@@"])
def test_a_malformed_key_is_refused_with_the_fix(no_key, monkeypatch, bad):
    monkeypatch.setenv(rk.KEY_ENV, bad)
    with pytest.raises(ConfigError) as err:
        rk.load_key()
    assert "not a base64-encoded 32-byte key" in err.value.message
    assert "openssl rand -base64 32" in err.value.fix


def test_the_embedded_default_generates_one_private_key_file_once(no_key):
    with pytest.raises(ConfigError, match="No key for the rejected rows"):
        rk.load_key(create=False)
    assert not no_key.exists()
    first = rk.load_key(create=True)
    assert stat.S_IMODE(no_key.stat().st_mode) == 0o600
    assert stat.S_IMODE(no_key.parent.stat().st_mode) == 0o700
    assert rk.load_key(create=True).key == first.key == rk.load_key().key
    assert first.origin == f"the key file {no_key}"
