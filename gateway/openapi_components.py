"""The reusable parts of the OpenAPI document: schemas, responses, headers, parameters.

Hand-written, because the code has no declarative schemas to derive them from
(validation is code, responses are built by gateway/serialize.py); every number and
enum comes from the code that enforces it, and tests keep the rest true: the
serializers' keys equal each schema's properties and `required`, schemathesis checks
every response (headers included) against the document, and real client generators
build and run clients from it (tests/openapi, tests/e2e/test_generated_clients.py).

Shapes that generated clients must handle, learned from openapi-python-client and
openapi-typescript (issue 22):
- recursion only through an object: `JsonValue` contains `JsonObject`, whose members
  are `JsonValue`s; a JSON array's items are left open (a schema whose array items
  are itself is dropped by openapi-python-client and is TS2502 in TypeScript);
- every object is typed (properties or additionalProperties): a bare
  `{"type": "object"}` is `Record<string, never>` in TypeScript;
- every field a response always has is `required`, nullable where it can be null.
"""

from __future__ import annotations

from typing import Any

from common.contracts import LANGUAGES, ExecutionStatus, FunctionStatus
from gateway.settings import Settings
from gateway.validation import (
    ALIAS_PATTERN,
    DEFAULT_PAGE,
    ISOLATIONS,
    MAX_CONCURRENCY,
    MAX_DESCRIPTION_CHARS,
    MAX_ENV_BYTES,
    MAX_ENV_ENTRIES,
    MAX_NAME_CHARS,
    MAX_PAGE,
    MAX_REVISION,
    MAX_ROUTE_CHARS,
    ROUTE_PATTERN,
)

FORWARD_COMPATIBLE = (
    " New values may be added in a minor version: treat one you do not know as"
    " 'other' (a client generated from an older document may reject it; regenerate)."
)
NO_NUL = "^[^\\u0000]*$"  # PostgreSQL text and jsonb cannot hold NUL
_ENV_NAME = "^[A-Za-z_][A-Za-z0-9_]*$"  # env and secret names (SPEC §12)


def ref(name: str, kind: str = "schemas") -> dict[str, str]:
    return {"$ref": f"#/components/{kind}/{name}"}


def json_content(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def mib(size: int) -> str:
    return f"{size // (1024 * 1024)} MiB" if size % (1024 * 1024) == 0 else f"{size} bytes"


_UUID = {"type": "string", "format": "uuid"}
_TS = {"type": "string", "format": "date-time"}
_NULLABLE_TS = {"type": ["string", "null"], "format": "date-time"}


def _object(required: list[str], properties: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": properties, **extra}


def _limits(settings: Settings, *, response: bool) -> dict[str, Any]:
    maxima = {
        "timeoutMs": (settings.max_timeout_ms, settings.default_timeout_ms, "wall-clock ms"),
        "memoryMb": (settings.max_memory_mb, settings.default_memory_mb, "linear memory, MiB"),
        "fuel": (settings.max_fuel, settings.default_fuel, "WebAssembly fuel units"),
    }
    properties = {
        name: {
            "type": "integer",
            "minimum": 1,
            "maximum": maximum,
            "description": f"{what}; default {default}",
        }
        for name, (maximum, default, what) in maxima.items()
    }
    required = list(properties)
    properties["concurrency"] = {
        "type": "integer",
        "minimum": 1,
        "maximum": MAX_CONCURRENCY,
        "description": "executions of the function running at once at most, across every"
        " gateway and worker: past it a synchronous call is 429 with Retry-After and an"
        " asynchronous one waits its turn; left out (or null on a request): unlimited."
        " One value per function, not per revision",
    }
    if not response:
        properties["concurrency"]["type"] = ["integer", "null"]
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if response:
        schema["required"] = required
    else:
        schema["additionalProperties"] = False
        schema["description"] = "A limit left out takes its default; over its maximum is 400."
    return schema


def schemas(settings: Settings) -> dict[str, Any]:
    return {
        "Error": _object(
            ["timestamp", "status", "error", "message", "requestId"],
            {
                "timestamp": _TS,
                "status": {"type": "integer", "description": "the HTTP status"},
                "error": {"type": "string", "description": "the status' reason phrase"},
                "message": {"type": "string", "description": "what went wrong, for people"},
                "requestId": {"type": "string", "description": "the X-Request-Id header"},
            },
            description="Every 4xx and 5xx of the API has this shape (SPEC §3).",
        ),
        "Language": {
            "type": "string",
            "enum": list(LANGUAGES),
            "description": "A language this gateway compiles." + FORWARD_COMPATIBLE,
        },
        "LanguageName": {
            "anyOf": [ref("Language"), {"type": "string", "minLength": 1, "pattern": NO_NUL}],
            "description": "One of `Language`, or another name: a request naming a language "
            "this gateway does not compile is 415. Open so that a client generated from an "
            "older document can use languages added since.",
        },
        "Isolation": {
            "type": "string",
            "enum": list(ISOLATIONS),
            "description": "shared: the common runner pool; dedicated: runners reserved for "
            "this function, started on its first call and reaped when idle." + FORWARD_COMPATIBLE,
        },
        "RetryRequest": {
            "type": ["object", "null"],
            "description": "How asynchronous executions retry a platform failure or a "
            "timeout (SPEC §10); missing or null is the defaults.",
            "properties": {
                "maxAttempts": {"type": "integer", "minimum": 1, "maximum": 10, "default": 3},
                "backoffMs": {
                    "type": "integer",
                    "minimum": 0,
                    "maximum": 3_600_000,
                    "default": 1000,
                    "description": "the first retry's delay; each next one doubles (with "
                    "jitter: between half and all of it)",
                },
            },
            "additionalProperties": False,
        },
        "Retry": _object(
            ["maxAttempts", "backoffMs"],
            {
                "maxAttempts": {"type": "integer", "minimum": 1, "maximum": 10},
                "backoffMs": {"type": "integer", "minimum": 0},
            },
        ),
        "Trigger": {
            "type": "string",
            "enum": ["http", "async", "schedule", "route", "sql"],
            "description": "how the execution was started: execute (http), invocations "
            "(async), a schedule, an HTTP route, or nil.invoke in SQL" + FORWARD_COMPATIBLE,
        },
        "FunctionStatus": {
            "type": "string",
            "enum": [s.value for s in FunctionStatus],
            "description": "The build of the newest revision: PENDING → COMPILING → READY | "
            "FAILED." + FORWARD_COMPATIBLE,
        },
        "ExecutionStatus": {
            "type": "string",
            "enum": [s.value for s in ExecutionStatus],
            "description": "A failure of the function itself is FAILED with an errorMessage "
            "(not an HTTP error)." + FORWARD_COMPATIBLE,
        },
        "LimitsRequest": _limits(settings, response=False),
        "Limits": _limits(settings, response=True),
        "FunctionRequest": {
            "type": "object",
            "required": ["name", "language", "source"],
            "description": "Unknown fields are ignored, so a Function read back can be sent "
            f"again. The whole body is at most {mib(settings.max_body_bytes)} (413).",
            "properties": {
                "name": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": MAX_NAME_CHARS,
                    "pattern": NO_NUL,
                },
                "description": {
                    "type": ["string", "null"],
                    "maxLength": MAX_DESCRIPTION_CHARS,
                    "pattern": NO_NUL,
                },
                "language": ref("LanguageName"),
                "source": {
                    "type": "string",
                    "minLength": 1,
                    "pattern": NO_NUL,
                    "description": f"At most {settings.max_source_bytes} bytes "
                    f"({mib(settings.max_source_bytes)}) as UTF-8, counted by the server in "
                    "bytes, not characters: a longer source is 413.",
                },
                "limits": ref("LimitsRequest"),
                "env": {
                    **ref("Env"),
                    "description": "Part of the revision: a change is a new revision that "
                    "runs the current artifact. Missing or null is {}.",
                },
                "secrets": {
                    "oneOf": [
                        ref("Env"),
                        {
                            "type": "array",
                            "items": {"type": "string"},
                            "description": "The names a GET returns: the secrets are kept.",
                        },
                    ],
                    "description": "Write-only values the function sees as environment "
                    "variables (a secret shadows an env entry of the same name), encrypted "
                    "at rest and redacted from logs and error messages; never returned. "
                    "Missing, null or a list of names (what a GET returns, so a GET body "
                    "can be PUT back) keeps the function's secrets; an object replaces them "
                    "all ({} removes them). Not part of the revision: a change applies to "
                    "every revision at once.",
                },
                "isolation": ref("Isolation"),
                "retry": ref("RetryRequest"),
                "route": {
                    "type": ["string", "null"],
                    "maxLength": MAX_ROUTE_CHARS,
                    "pattern": ROUTE_PATTERN,
                    "description": "Answer HTTP at /fn/{route} and below it (like `hello` or "
                    "`api/users`); unique (409 when another function has it). Missing or "
                    "null: no route.",
                },
                "public": {
                    "type": "boolean",
                    "description": "With API keys on, the route needs no key. Default false.",
                },
            },
        },
        "Function": _object(
            [
                "id",
                "name",
                "description",
                "language",
                "source",
                "status",
                "compileError",
                "revision",
                "liveRevision",
                "limits",
                "env",
                "secrets",
                "isolation",
                "retry",
                "route",
                "public",
                "wasmSize",
                "wasmSha256",
                "createdAt",
                "updatedAt",
            ],
            {
                "id": _UUID,
                "name": {"type": "string"},
                "description": {"type": ["string", "null"]},
                "language": ref("LanguageName"),
                "source": {"type": "string"},
                "status": ref("FunctionStatus"),
                "compileError": {
                    "type": ["string", "null"],
                    "description": "why the newest revision's build FAILED; null otherwise",
                },
                "revision": {"type": "integer", "minimum": 1, "description": "the newest"},
                "liveRevision": {
                    "type": ["integer", "null"],
                    "minimum": 1,
                    "description": "what executions run when they name no alias or revision "
                    "(the alias `live`); null until a revision is READY",
                },
                "limits": ref("Limits"),
                "env": ref("Env"),
                "secrets": {
                    "type": "array",
                    "items": {"type": "string", "pattern": _ENV_NAME},
                    "description": "the names of the function's secrets, sorted; values "
                    "are never returned",
                },
                "isolation": ref("Isolation"),
                "retry": ref("Retry"),
                "route": {
                    "type": ["string", "null"],
                    "description": "the function answers HTTP at /fn/{route}; null: no route",
                },
                "public": {"type": "boolean", "description": "the route needs no API key"},
                "wasmSize": {"type": ["integer", "null"], "description": "null until READY"},
                "wasmSha256": {"type": ["string", "null"], "description": "null until READY"},
                "createdAt": _TS,
                "updatedAt": _TS,
            },
        ),
        "FunctionSummary": _object(
            ["id", "name", "language", "status", "createdAt", "updatedAt"],
            {
                "id": _UUID,
                "name": {"type": "string"},
                "language": ref("LanguageName"),
                "status": ref("FunctionStatus"),
                "createdAt": _TS,
                "updatedAt": _TS,
            },
        ),
        "ExecuteRequest": {
            "type": "object",
            "properties": {
                "input": {
                    "anyOf": [{"type": "null"}, ref("JsonObject")],
                    "description": f"The function's input; missing or null is {{}}. At most "
                    f"{settings.max_input_bytes} bytes ({mib(settings.max_input_bytes)}) as "
                    "compact UTF-8 JSON: a larger input is 413.",
                },
            },
        },
        "ScheduleRequest": {
            "type": "object",
            "required": ["cron"],
            "additionalProperties": False,
            "properties": {
                "cron": {
                    "type": "string",
                    "minLength": 1,
                    "description": "5 fields: minute hour day-of-month month day-of-week, "
                    "e.g. `*/5 * * * *`; anything else is 400 naming `cron`.",
                },
                "timezone": {
                    "type": ["string", "null"],
                    "description": "An IANA time zone (e.g. Europe/Berlin) the cron is read "
                    "in; default UTC; an unknown one is 400 naming `timezone`. Daylight-saving "
                    "transitions: a skipped time fires just after the gap, a repeated one twice.",
                },
                "input": {
                    "anyOf": [{"type": "null"}, ref("JsonObject")],
                    "description": "The input of every execution it starts; missing or null is {}.",
                },
            },
        },
        "Schedule": _object(
            ["id", "functionId", "cron", "timezone", "input", "nextRunAt", "createdAt"],
            {
                "id": _UUID,
                "functionId": _UUID,
                "cron": {"type": "string"},
                "timezone": {"type": "string"},
                "input": ref("JsonObject"),
                "nextRunAt": {
                    **_TS,
                    "description": "The next tick due; each tick starts one asynchronous "
                    "execution (`trigger: schedule`). Ticks missed while the platform was "
                    "down are not replayed but for the most recent.",
                },
                "createdAt": _TS,
            },
        ),
        "RouteRequest": {
            "type": "string",
            "format": "binary",
            "description": "Any body (at most the input limit once mapped to the function's "
            "input: 413). The function receives `{method, path, query, headers, body, "
            "isBase64Encoded}`; `body` is text, or base64 when not UTF-8.",
        },
        "RouteResponse": {
            "type": "string",
            "format": "binary",
            "description": "What the function returned: an output with `statusCode` is the "
            "response (`statusCode`, `headers`, `body`, `isBase64Encoded`, `cookies`); any "
            "other output is a 200 `application/json` of it.",
        },
        "JsonObject": {
            "type": "object",
            "description": "A JSON object that PostgreSQL's jsonb can store: no NUL character "
            "in any key or string, at any depth (400 otherwise).",
            "propertyNames": {"pattern": NO_NUL},
            "additionalProperties": ref("JsonValue"),
        },
        "JsonValue": {
            "description": "Any JSON value (an array's items are any JSON values).",
            "anyOf": [
                {"type": "null"},
                {"type": "boolean"},
                {"type": "number"},
                {"type": "string", "pattern": NO_NUL},
                {"type": "array", "items": {}},
                ref("JsonObject"),
            ],
        },
        "Execution": _object(
            [
                "id",
                "functionId",
                "revision",
                "status",
                "input",
                "output",
                "errorMessage",
                "durationMs",
                "fuelUsed",
                "logs",
                "trigger",
                "attempts",
                "deadLettered",
                "startedAt",
                "completedAt",
                "createdAt",
            ],
            {
                "id": _UUID,
                "functionId": _UUID,
                "revision": _RAN,
                "status": ref("ExecutionStatus"),
                "input": ref("JsonObject"),
                "output": {
                    **ref("JsonValue"),
                    "description": "what the function returned when COMPLETED; else null",
                },
                "errorMessage": {
                    "type": ["string", "null"],
                    "description": "why it FAILED; null otherwise",
                },
                "durationMs": {"type": ["number", "null"]},
                "fuelUsed": {"type": ["integer", "null"]},
                "logs": {
                    "type": ["string", "null"],
                    "description": "What the function printed (stdout, stderr, console), "
                    "capped; a capped log ends with a truncation marker.",
                },
                **_ASYNC_FIELDS,
                "startedAt": _NULLABLE_TS,
                "completedAt": _NULLABLE_TS,
                "createdAt": _TS,
            },
        ),
        "ExecutionSummary": _object(
            [
                "id",
                "revision",
                "status",
                "startedAt",
                "completedAt",
                "durationMs",
                "trigger",
                "attempts",
                "deadLettered",
            ],
            {
                "id": _UUID,
                "revision": _RAN,
                "status": ref("ExecutionStatus"),
                "startedAt": _NULLABLE_TS,
                "completedAt": _NULLABLE_TS,
                "durationMs": {"type": ["number", "null"]},
                **_ASYNC_FIELDS,
            },
        ),
        **_revision_schemas(settings),
        **_probe_schemas(),
        "OpenApiDocument": _object(
            ["openapi", "info", "paths", "components"],
            {
                "openapi": {"type": "string"},
                "info": _object(
                    ["title", "version"],
                    {"title": {"type": "string"}, "version": {"type": "string"}},
                    additionalProperties=True,
                ),
                "paths": {"type": "object", "additionalProperties": _ANY_OBJECT},
                "components": {"type": "object", "additionalProperties": _ANY_OBJECT},
            },
            description="An OpenAPI 3.1 document: this one.",
            additionalProperties=True,
        ),
    }


_ANY_OBJECT = {"type": "object", "additionalProperties": True}
_ASYNC_FIELDS: dict[str, Any] = {
    "trigger": ref("Trigger"),
    "attempts": {
        "type": "integer",
        "minimum": 0,
        "description": "runs so far: asynchronous executions retry (0 while first queued)",
    },
    "deadLettered": {
        "type": "boolean",
        "description": "FAILED out of attempts (a dead letter; POST /executions/{id}/retry)",
    },
}
_RAN = {
    "type": ["integer", "null"],
    "minimum": 1,
    "description": "the revision that ran (null only for executions recorded before "
    "revisions existed)",
}
_REVISION_NUMBER = {"type": "integer", "minimum": 1, "maximum": MAX_REVISION}
_ROUTE_KEY = "^[1-9][0-9]{0,9}$"


def _revision_schemas(settings: Settings) -> dict[str, Any]:
    summary = {
        "revision": {"type": "integer", "minimum": 1},
        "status": ref("FunctionStatus"),
        "compileError": {"type": ["string", "null"], "description": "set when FAILED"},
        "language": ref("LanguageName"),
        "wasmSize": {"type": ["integer", "null"], "description": "null until READY"},
        "wasmSha256": {"type": ["string", "null"], "description": "null until READY"},
        "pruned": {
            "type": "boolean",
            "description": "its artifact was pruned: it can no longer run or be a target",
        },
        "createdAt": _TS,
        "builtAt": {**_NULLABLE_TS, "description": "when it became READY or FAILED"},
    }
    routes = {
        "type": "object",
        "description": "Revision numbers to whole-percent weights summing to 100 (400 "
        "otherwise); each execution takes one, decided by its id.",
        "propertyNames": {"pattern": _ROUTE_KEY},
        "additionalProperties": {"type": "integer", "minimum": 0, "maximum": 100},
        "minProperties": 1,
    }
    return {
        "Env": {
            "type": "object",
            "description": "Environment variables the function sees, names to values: "
            f"at most {MAX_ENV_ENTRIES} entries, {MAX_ENV_BYTES} bytes of names and values "
            "in all (larger is 400).",
            "maxProperties": MAX_ENV_ENTRIES,
            "propertyNames": {"pattern": _ENV_NAME},
            "additionalProperties": {"type": "string", "pattern": NO_NUL},
        },
        "RevisionSummary": _object(list(summary), summary),
        "Revision": _object(
            [*summary, "source", "limits", "env"],
            {
                **summary,
                "source": {"type": "string"},
                "limits": ref("Limits"),
                "env": ref("Env"),
            },
            description="An immutable revision: what it runs and its build.",
        ),
        "Alias": _object(
            ["name", "revision", "routes", "pinned", "updatedAt"],
            {
                "name": {"type": "string", "pattern": ALIAS_PATTERN},
                "revision": {
                    "type": ["integer", "null"],
                    "minimum": 1,
                    "description": "the one revision it names; null when it has routes, or "
                    "(latest, live) before any revision is READY",
                },
                "routes": {"anyOf": [{"type": "null"}, routes]},
                "pinned": {
                    "type": "boolean",
                    "description": "false only for `live` while it follows `latest`, and for "
                    "`latest` itself",
                },
                "updatedAt": {**_NULLABLE_TS, "description": "when it last moved"},
            },
            description="A name for revisions. `latest` (read-only) is the newest READY "
            "revision; `live` is what executions run by default.",
        ),
        "AliasRequest": {
            "type": "object",
            "description": "Exactly one of `revision` and `routes` (400 otherwise). Every "
            "revision named must exist (400) and be READY and not pruned (409). "
            f"The whole body is at most {mib(settings.max_body_bytes)} (413).",
            "properties": {
                "revision": {
                    "anyOf": [_REVISION_NUMBER, {"type": "string", "enum": ["latest"]}],
                    "description": 'A revision number; `"latest"` (for `live` only) un-pins '
                    "it: it follows the newest READY revision again.",
                },
                "routes": {**routes, "description": routes["description"] + " Not for live."},
            },
        },
        "RollbackRequest": {
            "type": "object",
            "description": "Without `revision`: the READY revision before the current live one.",
            "properties": {"revision": _REVISION_NUMBER},
        },
    }


_UP_DOWN = {"type": "string", "enum": ["UP", "DOWN"]}


def _probe_schemas() -> dict[str, Any]:
    return {
        "Health": _object(["status"], {"status": {"type": "string", "enum": ["UP"]}}),
        "ComponentState": _object(
            ["status"],
            {
                "status": _UP_DOWN,
                "message": {"type": "string", "description": "why it is DOWN"},
                "healthy": {
                    "type": "integer",
                    "description": "runners answering their health check (busy ones too)",
                },
                "size": {"type": "integer", "description": "runners known"},
                "busy": {"type": "integer", "description": "runners in a call now"},
                "idle": {"type": "integer", "description": "runners free now"},
            },
        ),
        "Readiness": _object(
            ["status", "components"],
            {
                "status": {**_UP_DOWN, "description": "UP when every component is UP"},
                "components": {
                    "type": "object",
                    "required": ["database", "runners"],
                    "properties": {
                        "database": ref("ComponentState"),
                        "runners": ref("ComponentState"),
                    },
                    "additionalProperties": ref("ComponentState"),
                },
            },
        ),
    }


HEADERS: dict[str, Any] = {
    "X-Request-Id": {
        "description": "The request's id: the one sent, when it is 1-128 characters of "
        "[A-Za-z0-9._:-], else a new one. Logged with every event of the request.",
        "required": True,
        "schema": {"type": "string"},
    },
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "required": True,
        "schema": {"type": "integer", "minimum": 1},
    },
    "Location": {
        "description": "The path of the created resource.",
        "required": True,
        "schema": {"type": "string", "format": "uri-reference"},
    },
    "X-Nil-Execution-Id": {
        "description": "The execution that answered this request to a route (/fn/...).",
        "required": True,
        "schema": {"type": "string", "format": "uuid"},
    },
    "Link": {
        "description": 'RFC 8288 `<path>; rel="next"`: the next page, sent when this page is '
        "full (as many items as `limit`); absent on the last page.",
        "schema": {"type": "string"},
    },
}


def headers(*names: str) -> dict[str, Any]:
    """The X-Request-Id every response carries, plus `names`."""
    return {name: ref(name, "headers") for name in ("X-Request-Id", *names)}


def _error(description: str, *extra_headers: str) -> dict[str, Any]:
    return {
        "description": description,
        "headers": headers(*extra_headers),
        "content": json_content(ref("Error")),
    }


def responses(settings: Settings) -> dict[str, Any]:
    """One reusable response per error status; `Unexpected` is every operation's default.
    The document keeps those its operations use."""
    return {
        "BadRequest": _error(
            "The request is invalid: body not JSON, a field missing or invalid, a path id "
            "that is not a UUID, or a function that cannot run yet."
        ),
        "Unauthorized": _error(
            "API keys are on (NIL_API_KEYS) and `Authorization: Bearer <key>` is missing or "
            "not a valid key."
        ),
        "NotFound": _error(
            "No such function, execution, revision or alias (or `before` row). A function "
            "is looked up before the rest of the request is checked."
        ),
        "Conflict": _error(
            "Conflicts with the current state: a route taken, an alias or rollback to a "
            "revision that is not READY or was pruned (or nothing to roll back to), an "
            "Idempotency-Key reused with a different input."
        ),
        "PayloadTooLarge": _error(
            f"Too large: the body is over {settings.max_body_bytes} bytes "
            f"({mib(settings.max_body_bytes)}), `source` over {settings.max_source_bytes} bytes "
            f"of UTF-8, or `input` over {settings.max_input_bytes} bytes as compact JSON."
        ),
        "UnsupportedLanguage": _error("The language is not one this gateway compiles."),
        "TooManyRequests": _error(
            "This API key's rate limit (shared by every gateway), or on execute the function's"
            " `limits.concurrency`, is exceeded; retry after `Retry-After` seconds.",
            "Retry-After",
        ),
        "ServiceUnavailable": _error(
            "The database or the runners are unavailable; retry after `Retry-After` seconds.",
            "Retry-After",
        ),
        "BadGateway": _error(
            "The function behind the route failed (its execution is FAILED: trap, throw, "
            "timeout, fuel, memory) or returned an invalid response; `X-Nil-Execution-Id` "
            "names the execution.",
            "X-Nil-Execution-Id",
        ),
        "Unexpected": _error("Any other error, in the same shape: 500 is a platform failure."),
    }


ID_PARAM = {
    "name": "id",
    "in": "path",
    "required": True,
    "schema": _UUID,
    "description": "not a UUID is 400",
}
REVISION_PARAM = {
    "name": "revision",
    "in": "path",
    "required": True,
    "schema": _REVISION_NUMBER,
    "description": "a revision number; not one is 400",
}
ALIAS_PARAM = {
    "name": "name",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": ALIAS_PATTERN},
    "description": "an alias name; `latest` cannot be set or deleted, `live` cannot be "
    "deleted (400)",
}
CHOICE_PARAMS = [
    {
        "name": "alias",
        "in": "query",
        "description": "run the revision this alias names (default `live`); an unknown alias "
        "is 404. Not with `revision` (400).",
        "schema": {"type": "string", "pattern": ALIAS_PATTERN},
    },
    {
        "name": "revision",
        "in": "query",
        "description": "run this revision; an unknown one is 404, one not READY 400, a "
        "pruned one 409",
        "schema": _REVISION_NUMBER,
    },
]
WAIT_PARAM = {
    "name": "wait",
    "in": "query",
    "description": "seconds (0-30, fractions allowed) to wait for the execution to end; "
    "out of range is 400",
    "schema": {"type": "number", "minimum": 0, "maximum": 30, "default": 0},
}
EXECUTION_FILTER_PARAMS = [
    {
        "name": "status",
        "in": "query",
        "description": "only executions of this status",
        "schema": ref("ExecutionStatus"),
    },
    {
        "name": "deadLettered",
        "in": "query",
        "description": "only dead letters (true) or only the others (false)",
        "schema": {"type": "boolean"},
    },
]
IDEMPOTENCY_KEY_PARAM = {
    "name": "Idempotency-Key",
    "in": "header",
    "description": "1-255 printable characters (400 otherwise; visible ASCII is what every "
    "HTTP client sends as it is). A repeat with the same key for the "
    "same function within 24 h returns the original execution and runs nothing; the same "
    "key with a different input or revision choice is 409.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"},
}
REVISION_PAGE_PARAMS = [
    {
        "name": "limit",
        "in": "query",
        "description": f"page size; outside 1..{MAX_PAGE} is 400",
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": DEFAULT_PAGE},
    },
    {
        "name": "before",
        "in": "query",
        "description": "revisions older than this revision number",
        "schema": _REVISION_NUMBER,
    },
]
NAME_FILTER_PARAM = {
    "name": "name",
    "in": "query",
    "description": "only the functions with exactly this name (case-sensitive)",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
}
PAGE_PARAMS = [
    {
        "name": "limit",
        "in": "query",
        "description": f"page size; outside 1..{MAX_PAGE} is 400",
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": DEFAULT_PAGE},
    },
    {
        "name": "before",
        "in": "query",
        "description": "items older than this one: an id from the previous page (404 if "
        "there is no such row) or an RFC 3339 timestamp",
        "schema": {"anyOf": [_UUID, _TS]},
    },
]
