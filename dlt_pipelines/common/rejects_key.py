"""AES-256-GCM for the rejected-row payloads in ``ops.load_rejects`` (docs/security.md).

The key (32 random bytes, base64) comes from, in order:

1. ``SCHOOLDATA_REJECTS_KEY`` in the environment;
2. dlt secrets: ``[schooldata] rejects_key = "..."`` in ``.dlt/secrets.toml``
   (or ``SCHOOLDATA__REJECTS_KEY``);
3. the key file ``.local/keys/rejects.key`` (mode 0600), generated on the first reject when
   neither is set: the embedded default.

A payload is stored as ``version (1 byte) | nonce (12 bytes) | ciphertext and GCM tag`` with
the key's id (a hash of the key, not the key) beside it; the associated data binds it to its
run, source and resource, so a payload moved to another row does not decrypt. The key is
never logged: it is registered with the log redaction as soon as it is read.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .at_rest import PRIVATE_FILE, private_dir
from .errors import ConfigError, OperatorError
from .logs import event, get_logger, register_secret
from .settings import env, local_dir

KEY_ENV = "SCHOOLDATA_REJECTS_KEY"
DLT_SECRET = "schooldata.rejects_key"
VERSION = b"\x01"
NONCE_BYTES = 12
GENERATE_HINT = "generate one with `openssl rand -base64 32`"

log = get_logger("rejects")


@dataclass(frozen=True)
class RejectsKey:
    key: bytes = field(repr=False)
    origin: str

    @property
    def key_id(self) -> str:
        """Names the key in ``ops.load_rejects.record_key_id`` without revealing it."""
        return hashlib.sha256(b"schooldata rejects key id\x00" + self.key).hexdigest()[:16]


class WrongKeyError(OperatorError):
    """The payload was not encrypted with this key (or was altered)."""


def key_file() -> Path:
    return local_dir() / "keys" / "rejects.key"


def _parse(text: str, origin: str) -> RejectsKey:
    text = text.strip()
    register_secret(text)
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != 32:
        raise ConfigError(f"The rejects key from {origin} is not a base64-encoded 32-byte key.",
                          f"set a valid key ({GENERATE_HINT}).")
    return RejectsKey(key, origin)


def _dlt_secret() -> str | None:
    try:
        import dlt

        value = dlt.secrets.get(DLT_SECRET)
    except Exception:  # no secrets file, or a provider that cannot answer
        return None
    return str(value) if value not in (None, "") else None


def configured_key() -> RejectsKey | None:
    """The key from the environment, dlt secrets or the key file; None when there is none."""
    value = env(KEY_ENV)
    if value:
        return _parse(value, f"the environment ({KEY_ENV})")
    value = _dlt_secret()
    if value:
        return _parse(value, "dlt secrets (schooldata.rejects_key)")
    path = key_file()
    if path.exists():
        return _parse(path.read_text(encoding="ascii", errors="replace"), f"the key file {path}")
    return None


def load_key(create: bool = False) -> RejectsKey:
    """The configured key; with ``create`` a key file is generated when none is configured."""
    found = configured_key()
    if found:
        return found
    if not create:
        raise ConfigError(
            f"No key for the rejected rows: {KEY_ENV} is not set, dlt secrets have no "
            f"schooldata.rejects_key and {key_file()} does not exist.",
            f"set {KEY_ENV} to the key the rows were encrypted with (base64, 32 bytes).")
    path = key_file()
    private_dir(path.parent)
    text = base64.b64encode(os.urandom(32)).decode("ascii")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    except FileExistsError:  # another run created it a moment ago
        return _parse(path.read_text(encoding="ascii"), f"the key file {path}")
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(text + "\n")
    found = _parse(text, f"the key file {path}")
    event(log, "rejects_key_generated", path=str(path), key_id=found.key_id,
          note=f"back it up, or set {KEY_ENV} to share one key between hosts")
    return found


def associated_data(run_id: str, source: str, resource: str) -> bytes:
    return f"ops.load_rejects|{run_id}|{source}|{resource}".encode()


def encrypt(key: RejectsKey, record: Any, aad: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    plain = json.dumps(record, default=str, ensure_ascii=False, separators=(",", ":")).encode()
    return VERSION + nonce + AESGCM(key.key).encrypt(nonce, plain, aad)


def decrypt(key: RejectsKey, blob: bytes, aad: bytes) -> Any:
    blob = bytes(blob)
    if blob[:1] != VERSION or len(blob) < 1 + NONCE_BYTES + 16:
        raise WrongKeyError("A rejected-row payload is not in the expected format (version 1).",
                            "decrypt it with the version of this project that wrote it.")
    nonce, sealed = blob[1:1 + NONCE_BYTES], blob[1 + NONCE_BYTES:]
    try:
        plain = AESGCM(key.key).decrypt(nonce, sealed, aad)
    except InvalidTag:
        raise WrongKeyError(
            f"The rejects key from {key.origin} does not decrypt this payload (wrong key, or the "
            "row was altered).",
            f"set {KEY_ENV} to the key the rows were encrypted with.") from None
    return json.loads(plain)
