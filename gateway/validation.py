"""Request validation: plain data in, validated records or a typed error out. No IO."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from common.contracts import LANGUAGES, Limits
from common.jsonvalues import unstorable_reason
from common.settings import DEDICATED_BACKENDS
from db.records import FunctionSpec
from gateway.errors import PayloadTooLarge, UnsupportedLanguage, ValidationError

MAX_NAME_CHARS = 255
MAX_DESCRIPTION_CHARS = 4096
DEFAULT_PAGE = 100
MAX_PAGE = 1000
ISOLATIONS = ("shared", "dedicated")
_LIMIT_FIELDS = {"timeoutMs": "timeout_ms", "memoryMb": "memory_mb", "fuel": "fuel"}


@dataclass(frozen=True)
class LimitPolicy:
    """What a function may ask for: limits up to the maxima, and the isolation levels
    this platform's runner backend offers (dedicated only where runners are started
    per function: common.settings.DEDICATED_BACKENDS)."""

    defaults: Limits
    maxima: Limits
    isolations: tuple[str, ...] = ISOLATIONS


@dataclass(frozen=True)
class Page:
    limit: int
    before_id: UUID | None = None
    before_time: datetime | None = None


def parse_uuid(text: str, what: str = "id") -> UUID:
    try:
        return UUID(text)
    except ValueError:
        raise ValidationError(f"{what} must be a UUID, got {text[:64]!r}") from None


def require_text(value: Any, field: str) -> str:
    """A non-empty string that PostgreSQL can store: valid Unicode, no NUL."""
    if not isinstance(value, str) or not value:
        raise ValidationError(f"{field} is required and must be a non-empty string")
    check_storable(value, field)
    return value


def check_storable(text: str, field: str) -> None:
    if "\x00" in text:
        raise ValidationError(f"{field} must not contain NUL characters")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError(f"{field} must be valid Unicode (no lone surrogates)") from None


def require_object(body: Any, what: str = "request body") -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ValidationError(f"{what} must be a JSON object")
    return body


def parse_function_spec(body: Any, *, policy: LimitPolicy, max_source_bytes: int) -> FunctionSpec:
    body = require_object(body)
    name = require_text(body.get("name"), "name")
    if len(name) > MAX_NAME_CHARS:
        raise ValidationError(f"name must be at most {MAX_NAME_CHARS} characters")
    description = body.get("description")
    if description is not None and not isinstance(description, str):
        raise ValidationError("description must be a string or null")
    if description is not None and len(description) > MAX_DESCRIPTION_CHARS:
        raise ValidationError(f"description must be at most {MAX_DESCRIPTION_CHARS} characters")
    if description is not None:
        check_storable(description, "description")
    language = body.get("language")
    if not isinstance(language, str) or not language:
        raise ValidationError("language is required and must be a string")
    if language not in LANGUAGES:
        raise UnsupportedLanguage(
            f"language {language[:64]!r} is not supported; use one of: {', '.join(LANGUAGES)}"
        )
    source = require_text(body.get("source"), "source")
    if len(source.encode("utf-8")) > max_source_bytes:
        raise PayloadTooLarge(f"source must be at most {max_source_bytes} bytes")
    limits = parse_limits(body.get("limits"), policy)
    isolation = body.get("isolation") or "shared"
    if isolation not in ISOLATIONS:
        raise ValidationError(f"isolation must be one of: {', '.join(ISOLATIONS)}")
    if isolation not in policy.isolations:
        raise ValidationError(
            f"isolation {isolation!r} needs runners started per function: NIL_POOL_BACKEND="
            f"{' or '.join(DEDICATED_BACKENDS)}; this platform's backend cannot start them"
        )
    return FunctionSpec(name, description, language, source, limits, isolation)


def parse_limits(raw: Any, policy: LimitPolicy) -> Limits:
    if raw is None:
        return policy.defaults
    raw = require_object(raw, "limits")
    unknown = sorted(set(raw) - set(_LIMIT_FIELDS))
    if unknown:
        raise ValidationError(f"limits has unknown fields: {', '.join(unknown)}")
    values = {}
    for field, attr in _LIMIT_FIELDS.items():
        value = raw.get(field)
        maximum = getattr(policy.maxima, attr)
        if value is None:
            values[attr] = getattr(policy.defaults, attr)
            continue
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # JSON has one number type: 64.0 is the integer 64
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValidationError(f"limits.{field} must be an integer")
        if not 1 <= value <= maximum:
            raise ValidationError(f"limits.{field} must be between 1 and {maximum}")
        values[attr] = value
    return Limits(**values)


def parse_execute_input(body: Any, *, max_input_bytes: int) -> dict[str, Any]:
    """`{input?}`: input must be a JSON object; missing or null means {}."""
    if body is None:
        return {}
    body = require_object(body)
    value = body.get("input")
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValidationError("input must be a JSON object")
    problem = unstorable_reason(value)
    if problem is not None:
        raise ValidationError(f"input {problem}")
    size = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
    if size > max_input_bytes:
        raise PayloadTooLarge(f"input must be at most {max_input_bytes} bytes as JSON")
    return value


def parse_page(args: dict[str, str]) -> Page:
    raw_limit = args.get("limit", str(DEFAULT_PAGE))
    try:
        limit = int(raw_limit)
    except ValueError:
        raise ValidationError("limit must be an integer") from None
    if not 1 <= limit <= MAX_PAGE:
        raise ValidationError(f"limit must be between 1 and {MAX_PAGE}")
    before = args.get("before")
    if not before:
        return Page(limit)
    try:
        return Page(limit, before_id=UUID(before))
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(before.replace("Z", "+00:00").replace(" ", "+"))
    except ValueError:
        raise ValidationError("before must be an id or an RFC 3339 timestamp") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return Page(limit, before_time=moment)
