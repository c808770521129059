"""Sealing and opening function secrets (SPEC §12): AES-256-GCM under NIL_SECRETS_KEY.

A value is sealed with a fresh 96-bit nonce and the function id and the secret's name as
associated data, so a ciphertext copied to another function or name fails to open. Each
sealed value names its key (`key_id`: the first 8 bytes of the key's SHA-256, in hex), so
a rotation works without downtime: the new key goes in NIL_SECRETS_KEY, the old one in
NIL_SECRETS_OLD_KEYS (decrypt-only), and `reseal` (the consumer's housekeeping, or
`python -m consumer.reseal`) re-encrypts every value still under an old key. A key that
is missing or wrong is a `SecretsKeyError`: the platform's error (503) naming the key
problem, never garbage. Keys are 32 random bytes, written as base64 (or 64 hex digits).
Pure: no IO, no Flask, no psycopg. `cryptography` is imported only by a Keyring (the
gateway image has it); the record `Sealed` travels through db/ without it, so the
builder, which reads revisions, does not need it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets as _random
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from common.errors import ServiceUnavailable

NONCE_BYTES = 12


class SecretsKeyError(ServiceUnavailable):
    """The platform cannot open this function's secrets: NIL_SECRETS_KEY is missing or is
    not the key they were sealed with."""


@dataclass(frozen=True)
class Sealed:
    """One secret as stored: which key sealed it, its nonce and its ciphertext (+ tag)."""

    name: str
    key_id: str
    nonce: bytes
    ciphertext: bytes


def generate_key() -> str:
    """A new key, as NIL_SECRETS_KEY takes it (base64 of 32 random bytes)."""
    return base64.b64encode(_random.token_bytes(32)).decode()


def parse_key(text: str) -> bytes:
    """32 bytes from base64 or hex; ValueError (never echoing the key) otherwise."""
    text = text.strip()
    raw: bytes | None = None
    if len(text) == 64:
        try:
            raw = bytes.fromhex(text)
        except ValueError:
            raw = None
    if raw is None:
        try:
            raw = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raw = None
    if raw is None or len(raw) != 32:
        raise ValueError("a secrets key must be 32 bytes, written as base64 or 64 hex digits")
    return raw


def key_id(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:16]


def _aead(key: bytes) -> Any:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    return AESGCM(key)


def _aad(function_id: UUID, name: str) -> bytes:
    return f"{function_id}/{name}".encode()


class Keyring:
    """The current key (seals and opens) and old keys (open only, while resealing)."""

    def __init__(self, current: str = "", old: tuple[str, ...] = ()) -> None:
        self._current: tuple[str, Any] | None = None
        self._keys: dict[str, Any] = {}
        self.problem: str | None = None
        try:
            for text in old:
                raw = parse_key(text)
                self._keys[key_id(raw)] = _aead(raw)
            if current:
                raw = parse_key(current)
                self._current = (key_id(raw), _aead(raw))
                self._keys[key_id(raw)] = self._current[1]
            else:
                self.problem = "NIL_SECRETS_KEY is not set"
        except ValueError as exc:
            self.problem = f"NIL_SECRETS_KEY or NIL_SECRETS_OLD_KEYS is invalid: {exc}"
            self._current, self._keys = None, {}

    @classmethod
    def from_settings(cls, settings) -> Keyring:
        return cls(settings.secrets_key, tuple(settings.secrets_old_keys))

    @property
    def current_id(self) -> str | None:
        return self._current[0] if self._current else None

    def seal(self, function_id: UUID, name: str, value: str) -> Sealed:
        if self._current is None:
            raise SecretsKeyError(f"cannot store secrets: {self.problem}")
        kid, aead = self._current
        nonce = os.urandom(NONCE_BYTES)
        ciphertext = aead.encrypt(nonce, value.encode(), _aad(function_id, name))
        return Sealed(name, kid, nonce, ciphertext)

    def open(self, function_id: UUID, sealed: Sealed) -> str:
        from cryptography.exceptions import InvalidTag

        aead = self._keys.get(sealed.key_id)
        if aead is None:
            why = self.problem or (
                f"it holds key {self.current_id}, not key {sealed.key_id} that sealed them"
                " (a wrong NIL_SECRETS_KEY, or a rotation without NIL_SECRETS_OLD_KEYS)"
            )
            raise SecretsKeyError(f"cannot decrypt the function's secrets: {why}")
        try:
            plain = aead.decrypt(sealed.nonce, sealed.ciphertext, _aad(function_id, sealed.name))
        except InvalidTag:
            raise SecretsKeyError(
                f"cannot decrypt secret {sealed.name}: it fails authentication under key"
                f" {sealed.key_id} (tampered with, or copied from another function or name)"
            ) from None
        return plain.decode()

    def open_all(self, function_id: UUID, sealed: list[Sealed]) -> dict[str, str]:
        return {s.name: self.open(function_id, s) for s in sealed}

    def needs_reseal(self, sealed: Sealed) -> bool:
        return self._current is not None and sealed.key_id != self._current[0]
