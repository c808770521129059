"""Request validation: plain data in, validated records or a typed error out. No IO."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from common import cron
from common.contracts import LANGUAGES, ExecutionStatus, Limits
from common.jsonvalues import compact, unstorable_reason
from common.settings import DEDICATED_BACKENDS
from db.records import FunctionSpec, RetryPolicy
from db.targets import LATEST, LIVE, ROUTE_BUCKETS, RevisionChoice
from gateway.errors import PayloadTooLarge, UnsupportedLanguage, ValidationError

MAX_NAME_CHARS = 255
MAX_DESCRIPTION_CHARS = 4096
DEFAULT_PAGE = 100
MAX_PAGE = 1000
ISOLATIONS = ("shared", "dedicated")
ALIAS_PATTERN = "^[a-z][a-z0-9-]{0,62}$"
MAX_REVISION = 2**31 - 1
_ALIAS = re.compile(ALIAS_PATTERN)
_REVISION = re.compile("^[1-9][0-9]{0,9}$")
_SECONDS = re.compile(r"-?[0-9]{1,20}(\.[0-9]{1,20})?([eE][-+]?[0-9]{1,3})?\Z", re.ASCII)
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
    before_revision: int | None = None


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


def parse_name_filter(args: Mapping[str, str]) -> str | None:
    """`GET /functions?name=`: an exact name, or None when absent."""
    name = args.get("name")
    if name is None:
        return None
    require_text(name, "name")
    if len(name) > MAX_NAME_CHARS:
        raise ValidationError(f"name must be at most {MAX_NAME_CHARS} characters")
    return name


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
    concurrency = parse_concurrency(body.get("limits"))
    isolation = body.get("isolation") or "shared"
    if isolation not in ISOLATIONS:
        raise ValidationError(f"isolation must be one of: {', '.join(ISOLATIONS)}")
    if isolation not in policy.isolations:
        raise ValidationError(
            f"isolation {isolation!r} needs runners started per function: NIL_POOL_BACKEND="
            f"{' or '.join(DEDICATED_BACKENDS)}; this platform's backend cannot start them"
        )
    env = parse_env(body.get("env"))
    retry = parse_retry(body.get("retry"))
    route = parse_route(body.get("route"))
    public = body.get("public", False)
    if public is None:
        public = False
    if not isinstance(public, bool):
        raise ValidationError("public must be true or false")
    # missing, null or a list of names (what a GET returns) keeps the function's
    # secrets; an object replaces them ({} removes them)
    raw_secrets = body.get("secrets")
    names = isinstance(raw_secrets, list) and all(isinstance(n, str) for n in raw_secrets)
    secrets = None if raw_secrets is None or names else parse_env(raw_secrets, "secrets")
    return FunctionSpec(
        name,
        description,
        language,
        source,
        limits,
        isolation,
        env,
        retry,
        route=route,
        public=public,
        secrets=secrets,
        concurrency=concurrency,
    )


ROUTE_PATTERN = "^[a-z0-9][a-z0-9_-]*(/[a-z0-9][a-z0-9_-]*)*$"
MAX_ROUTE_CHARS = 255
_ROUTE = re.compile(ROUTE_PATTERN)


def parse_route(value: Any) -> str | None:
    """`route` (SPEC §2, §11): null, or a slug like `hello` or `api/users` — lowercase
    letters, digits, `-` and `_`, in segments separated by single slashes."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError("route must be a string or null")
    if len(value) > MAX_ROUTE_CHARS or not _ROUTE.fullmatch(value):
        raise ValidationError(
            f"route must be lowercase letters, digits, '-' and '_' in segments separated by"
            f" '/' (like hello or api/users; no '..', spaces or uppercase), at most"
            f" {MAX_ROUTE_CHARS} characters; got {value[:64]!r}"
        )
    return value


MAX_CONCURRENCY = 10_000


def parse_concurrency(raw: Any) -> int | None:
    """`limits.concurrency`: executions of the function RUNNING at once at most, across
    every gateway and worker; missing or null is unlimited."""
    if not isinstance(raw, dict) or raw.get("concurrency") is None:
        return None
    value = _whole(raw["concurrency"])
    if not _is_int(value) or not 1 <= value <= MAX_CONCURRENCY:
        raise ValidationError(f"limits.concurrency must be an integer from 1 to {MAX_CONCURRENCY}")
    return value


MAX_RETRY_ATTEMPTS = 10
MAX_RETRY_BACKOFF_MS = 3_600_000


def parse_retry(value: Any) -> RetryPolicy:
    """`retry: {maxAttempts?, backoffMs?}` (SPEC §2): 1 to 10 attempts, backoff up to 1 h."""
    if value is None:
        return RetryPolicy()
    value = require_object(value, "retry")
    unknown = sorted(set(value) - {"maxAttempts", "backoffMs"})
    if unknown:
        raise ValidationError(f"retry has unknown fields: {', '.join(unknown)}")
    attempts = _whole(value.get("maxAttempts", RetryPolicy.max_attempts))
    backoff = _whole(value.get("backoffMs", RetryPolicy.backoff_ms))
    if not _is_int(attempts) or not 1 <= attempts <= MAX_RETRY_ATTEMPTS:
        raise ValidationError(
            f"retry.maxAttempts must be an integer from 1 to {MAX_RETRY_ATTEMPTS}"
        )
    if not _is_int(backoff) or not 0 <= backoff <= MAX_RETRY_BACKOFF_MS:
        raise ValidationError(
            f"retry.backoffMs must be an integer from 0 to {MAX_RETRY_BACKOFF_MS}"
        )
    return RetryPolicy(attempts, backoff)


def _whole(value: Any) -> Any:
    """JSON has one number type: 2.0 is the integer 2."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


MAX_ENV_ENTRIES = 64
MAX_ENV_BYTES = 32 * 1024
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def parse_env(raw: Any, field: str = "env") -> dict[str, str]:
    """`env` or `secrets` (SPEC §12): an object of strings, at most 64 entries, names
    `[A-Za-z_][A-Za-z0-9_]*`, 32 KiB of names and values in all; null is {}. A message
    about `secrets` never quotes a value."""
    if raw is None:
        return {}
    raw = require_object(raw, field)
    if len(raw) > MAX_ENV_ENTRIES:
        raise ValidationError(f"{field} must have at most {MAX_ENV_ENTRIES} entries")
    size = 0
    for key, value in raw.items():
        if not ENV_NAME.fullmatch(key):
            raise ValidationError(
                f"{field} names must match [A-Za-z_][A-Za-z0-9_]*; {key[:64]!r} does not"
            )
        if not isinstance(value, str):
            raise ValidationError(f"{field}.{key} must be a string")
        check_storable(value, f"{field}.{key}")
        size += len(key) + len(value.encode("utf-8"))
    if size > MAX_ENV_BYTES:
        raise ValidationError(
            f"{field} must be at most {MAX_ENV_BYTES} bytes of names and values in all"
        )
    return dict(raw)


def parse_limits(raw: Any, policy: LimitPolicy) -> Limits:
    if raw is None:
        return policy.defaults
    raw = require_object(raw, "limits")
    unknown = sorted(set(raw) - set(_LIMIT_FIELDS) - {"concurrency"})
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
    size = len(compact(value).encode("utf-8"))
    if size > max_input_bytes:
        raise PayloadTooLarge(f"input must be at most {max_input_bytes} bytes as JSON")
    return value


def parse_limit(args: dict[str, str]) -> int:
    raw_limit = args.get("limit", str(DEFAULT_PAGE))
    try:
        limit = int(raw_limit)
    except ValueError:
        raise ValidationError("limit must be an integer") from None
    if not 1 <= limit <= MAX_PAGE:
        raise ValidationError(f"limit must be between 1 and {MAX_PAGE}")
    return limit


def parse_page(args: dict[str, str]) -> Page:
    limit = parse_limit(args)
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


def parse_revision_number(value: Any, what: str = "revision") -> int:
    """A revision number: a positive integer, in JSON or in a path or query string."""
    if isinstance(value, str) and _REVISION.match(value):
        value = int(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_REVISION:
        raise ValidationError(f"{what} must be a revision number (an integer from 1)")
    return value


def parse_alias_name(name: str, *, writable: bool = False) -> str:
    if not _ALIAS.match(name) and name != LATEST:
        raise ValidationError(f"alias names match {ALIAS_PATTERN}, got {name[:64]!r}")
    if writable and name == LATEST:
        raise ValidationError("latest is the newest READY revision; it cannot be set or deleted")
    return name


@dataclass(frozen=True)
class ExecutionFilter:
    status: ExecutionStatus | None = None
    dead_lettered: bool | None = None


def parse_execution_filter(args: dict[str, str]) -> ExecutionFilter:
    """`?status=` (an execution status) and `?deadLettered=true|false` on a history."""
    status = args.get("status")
    if status is not None and status not in {s.value for s in ExecutionStatus}:
        raise ValidationError(
            f"status must be one of: {', '.join(s.value for s in ExecutionStatus)}"
        )
    dead = args.get("deadLettered")
    if dead is not None and dead not in ("true", "false"):
        raise ValidationError("deadLettered must be true or false")
    return ExecutionFilter(
        ExecutionStatus(status) if status is not None else None,
        None if dead is None else dead == "true",
    )


MAX_WAIT_SECONDS = 30


def parse_wait(args: dict[str, str]) -> float:
    """`?wait=S`: seconds (0 to 30, fractions allowed) to wait for the execution to end."""
    raw = args.get("wait")
    if raw is None:
        return 0.0
    if not _SECONDS.match(raw):  # a JSON number; float() would also take "1_0", " 1", "٣"
        raise ValidationError("wait must be a number of seconds")
    seconds = float(raw)
    if not 0 <= seconds <= MAX_WAIT_SECONDS:  # also refuses nan
        raise ValidationError(f"wait must be from 0 to {MAX_WAIT_SECONDS} seconds")
    return seconds


MAX_IDEMPOTENCY_KEY_CHARS = 255


def parse_idempotency_key(headers: Any) -> str | None:
    """The `Idempotency-Key` header (SPEC §10): 1 to 255 printable characters."""
    key = headers.get("Idempotency-Key")
    if key is None:
        return None
    if not key or len(key) > MAX_IDEMPOTENCY_KEY_CHARS:
        raise ValidationError(
            f"Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY_CHARS} characters"
        )
    if not key.isprintable():
        raise ValidationError("Idempotency-Key must be printable characters")
    return key


def parse_revision_choice(args: dict[str, str]) -> RevisionChoice:
    """`?alias=name` or `?revision=n` on anything that starts an execution."""
    alias, revision = args.get("alias"), args.get("revision")
    if alias is not None and revision is not None:
        raise ValidationError("choose an alias or a revision, not both")
    if revision is not None:
        return RevisionChoice(revision=parse_revision_number(revision))
    if alias is not None:
        return RevisionChoice(alias=parse_alias_name(alias))
    return RevisionChoice()


@dataclass(frozen=True)
class AliasRequest:
    """PUT /functions/{id}/aliases/{name}: one revision, weighted routes, or (for live
    only) `{"revision": "latest"}` to follow the newest READY revision again."""

    revision: int | None = None
    routes: dict[int, int] | None = None

    @property
    def follow_latest(self) -> bool:
        return self.revision is None and self.routes is None

    def revisions(self) -> list[int]:
        return sorted(self.routes) if self.routes is not None else [self.revision or 0]


def parse_alias_request(body: Any, name: str) -> AliasRequest:
    body = require_object(body)
    revision, routes = body.get("revision"), body.get("routes")
    if (revision is None) == (routes is None):
        raise ValidationError('send {"revision": n} or {"routes": {"n": weight, ...}}')
    if revision == LATEST:
        if name != LIVE:
            raise ValidationError('only live can follow "latest"; name a revision')
        return AliasRequest()
    if revision is not None:
        return AliasRequest(revision=parse_revision_number(revision))
    if name == LIVE:
        raise ValidationError("live points at one revision; split traffic with another alias")
    return AliasRequest(routes=parse_routes(routes))


def parse_routes(raw: Any) -> dict[int, int]:
    """{"3": 90, "4": 10}: revision numbers to whole percentages summing to 100."""
    raw = require_object(raw, "routes")
    if not raw:
        raise ValidationError("routes must name at least one revision")
    routes = {}
    for key, weight in raw.items():
        if not _REVISION.match(key):
            raise ValidationError(f"routes keys are revision numbers, got {key[:64]!r}")
        if isinstance(weight, float) and weight.is_integer():
            weight = int(weight)
        if isinstance(weight, bool) or not isinstance(weight, int) or weight < 0:
            raise ValidationError(f"routes[{key}] must be a non-negative integer weight")
        routes[int(key)] = weight
    if sum(routes.values()) != ROUTE_BUCKETS:
        raise ValidationError(f"routes weights must sum to {ROUTE_BUCKETS}")
    return routes


def parse_rollback_request(body: Any) -> int | None:
    """`{"revision": n}`, or no body: the READY revision before live."""
    if body is None:
        return None
    revision = require_object(body).get("revision")
    return None if revision is None else parse_revision_number(revision)


def parse_revision_page(args: dict[str, str]) -> Page:
    """A page of revisions: `limit`, and `before=<revision number>`."""
    before = args.get("before")
    revision = parse_revision_number(before, "before") if before is not None else None
    return Page(parse_limit(args), before_revision=revision)


@dataclass(frozen=True)
class ScheduleRequest:
    cron: str
    timezone: str
    input: dict[str, Any]


def parse_schedule(body: Any, *, max_input_bytes: int) -> ScheduleRequest:
    """`{cron, input?, timezone?}` (SPEC §11): a 5-field cron expression, an IANA time
    zone (default UTC), an input object (default {})."""
    body = require_object(body)
    unknown = sorted(set(body) - {"cron", "input", "timezone"})
    if unknown:
        raise ValidationError(f"schedule has unknown fields: {', '.join(unknown)}")
    cron_text = body.get("cron")
    if not isinstance(cron_text, str) or not cron_text.strip():
        raise ValidationError("cron is required and must be a 5-field cron expression")
    timezone = body.get("timezone")
    if timezone is None:
        timezone = "UTC"
    if not isinstance(timezone, str):
        raise ValidationError("timezone must be an IANA time zone name like Europe/Berlin")
    try:
        expression = cron.parse_cron(cron_text)
        cron.parse_timezone(timezone)
    except cron.InvalidSchedule as exc:
        raise ValidationError(str(exc)) from None
    value = parse_execute_input({"input": body.get("input")}, max_input_bytes=max_input_bytes)
    return ScheduleRequest(expression, timezone, value)
