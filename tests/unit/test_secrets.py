"""Sealing secrets (common/secrets.py) and redacting them (common/redaction.py,
runner/capture.py): pure, no database, no runner."""

from __future__ import annotations

import json
import uuid
from urllib.parse import quote

import pytest

from common.contracts import ExecuteRequest, Limits
from common.redaction import MARK, forms, redact, redact_cut
from common.secrets import Keyring, SecretsKeyError, generate_key, parse_key
from runner.capture import TRUNCATION_MARKER, OutputCapture

FID = uuid.uuid4()
VALUE = 'p@ss"w\\ord-é'


def test_a_sealed_value_opens_only_for_its_function_and_name_under_its_key():
    ring = Keyring(generate_key())
    sealed = ring.seal(FID, "TOKEN", VALUE)
    assert VALUE.encode() not in sealed.ciphertext and len(sealed.nonce) == 12
    assert ring.open(FID, sealed) == VALUE
    assert ring.seal(FID, "TOKEN", VALUE).nonce != sealed.nonce  # a nonce per value
    renamed = type(sealed)("OTHER", sealed.key_id, sealed.nonce, sealed.ciphertext)
    with pytest.raises(SecretsKeyError, match="fails authentication"):
        ring.open(FID, renamed)
    with pytest.raises(SecretsKeyError, match="fails authentication"):
        ring.open(uuid.uuid4(), sealed)


def test_a_wrong_or_missing_key_is_a_clear_503_that_never_shows_a_key():
    key = generate_key()
    sealed = Keyring(key).seal(FID, "TOKEN", VALUE)
    with pytest.raises(SecretsKeyError, match="NIL_SECRETS_KEY") as wrong:
        Keyring(generate_key()).open(FID, sealed)
    assert wrong.value.status == 503 and key not in str(wrong.value)
    with pytest.raises(SecretsKeyError, match="NIL_SECRETS_KEY is not set"):
        Keyring().open(FID, sealed)
    with pytest.raises(SecretsKeyError, match="NIL_SECRETS_KEY is not set"):
        Keyring().seal(FID, "TOKEN", VALUE)
    broken = Keyring("not-a-key")
    assert "must be 32 bytes" in (broken.problem or "")


def test_old_keys_open_while_the_current_one_seals():
    old, new = generate_key(), generate_key()
    sealed = Keyring(old).seal(FID, "TOKEN", VALUE)
    ring = Keyring(new, (old,))
    assert ring.open(FID, sealed) == VALUE and ring.needs_reseal(sealed)
    assert ring.seal(FID, "TOKEN", VALUE).key_id == ring.current_id != sealed.key_id


def test_keys_are_base64_or_hex_of_32_bytes():
    raw = parse_key(generate_key())
    assert len(raw) == 32 and parse_key(raw.hex()) == raw
    with pytest.raises(ValueError, match="32 bytes"):
        parse_key("c2hvcnQ=")


def test_every_spelling_of_a_value_is_redacted_and_short_values_are_not():
    text = f"raw {VALUE} json {json.dumps(VALUE)} ascii {json.dumps(VALUE, ensure_ascii=False)}"
    assert redact(text, [VALUE, "abc"]) == f'raw {MARK} json "{MARK}" ascii "{MARK}"'
    assert redact("a abc b", ["abc"]) == "a abc b"  # < 4 characters: ordinary text


def test_a_cut_hides_its_last_characters_whatever_they_are():
    """The same characters are hidden whether or not they begin a value: what a cut
    replaces tells nothing about a secret (no guessing it a character at a time)."""
    hidden = len(forms([VALUE])[0]) - 1
    start = "x" * 100
    for tail in ("p@ss", "fine"):
        assert redact_cut(start + tail, [VALUE]) == (start + tail)[: 104 - hidden] + MARK
    assert redact_cut("log ... fine", []) == "log ... fine"


def test_repr_unicode_escape_and_url_spellings_are_redacted():
    odd = 'pä"ss\\wörd<>&\n\tend'
    text = f"{dict(T=odd)} {odd.encode('unicode_escape').decode()} {quote(odd, safe='')}"
    assert redact(text, [odd]) == f"{{'T': '{MARK}'}} {MARK} {MARK}"


def test_a_value_straddling_the_log_cap_is_redacted_whole():
    capture = OutputCapture(64, (VALUE,))
    capture.write(b"0123456789" * 4 + VALUE.encode() + b" and more after the cap")
    text = capture.text()
    assert text.endswith(TRUNCATION_MARKER)
    kept = text.removesuffix(TRUNCATION_MARKER)
    assert "p@ss" not in kept and kept.startswith("0123456789") and kept.endswith(MARK)
    assert len(kept.encode()) <= 64


def test_a_value_split_across_writes_is_redacted():
    capture = OutputCapture(64 * 1024, (VALUE,))
    half = len(VALUE) // 2
    capture.write(b"token=" + VALUE[:half].encode())
    capture.write(VALUE[half:].encode() + b"\n")
    assert capture.text() == f"token={MARK}\n"


def test_the_trap_hint_is_redacted():
    capture = OutputCapture(1024, (VALUE,))
    capture.write_stderr(f"fatal: {VALUE}\n".encode())
    assert capture.trap_hint() == f"fatal: {MARK}"


def test_the_request_carries_env_and_redactions_but_never_shows_them():
    request = ExecuteRequest("ab" * 32, "{}", Limits(1, 1, 1), {"A": VALUE}, (VALUE,))
    assert VALUE not in repr(request)
    head, body = request.frame()
    assert ExecuteRequest.from_frame(head, body) == request
    bare = ExecuteRequest("ab" * 32, "{}", Limits(1, 1, 1))
    assert "env" not in bare.frame()[0] and "redact" not in bare.frame()[0]


def test_settings_never_show_the_keys():
    from gateway.settings import Settings

    key, old = generate_key(), generate_key()
    settings = Settings(secrets_key=key, secrets_old_keys=(old,))
    assert key not in repr(settings) and old not in repr(settings)
    assert Keyring.from_settings(settings).current_id is not None
