"""The OpenAPI 3.1 description of the gateway, served at /openapi.json.

Written for generated clients to use unmodified (issue 22): every operation has one
tag, error responses (each status it can answer, and `default`) and typed bodies;
response headers are documented; limits are those this gateway is configured with.
The document is hand-written from the code's own constants (gateway/openapi_components.py
says why and what keeps it true); tests/openapi holds the rules every operation must
pass, and the real generators and linter run against it in `make test`.
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import metadata
from typing import Any

from gateway import openapi_components as c
from gateway.settings import Settings

# Every operation has exactly one of these tags; a tag appears in the document once an
# operation uses it. Later endpoints (SPEC §9-§11) take theirs from this list.
TAGS = {
    "functions": "Register, read, replace and delete functions.",
    "executions": "Run a function synchronously and read its executions.",
    "revisions": "A function's immutable revisions and the aliases naming them.",
    "invocations": "Asynchronous and idempotent executions, retries and dead letters.",
    "schedules": "Cron schedules that start executions.",
    "system": "Probes, metrics and this document.",
}

# Statuses that API keys (NIL_API_KEYS) add to every operation that needs a key.
_KEYED = (401, 429)
_RESPONSE_BY_STATUS = {
    400: "BadRequest",
    401: "Unauthorized",
    404: "NotFound",
    409: "Conflict",
    413: "PayloadTooLarge",
    415: "UnsupportedLanguage",
    429: "TooManyRequests",
    502: "BadGateway",
    503: "ServiceUnavailable",
}


def _errors(*codes: int, keyed: bool = True) -> dict[str, Any]:
    """The listed statuses (+ 401 and 429 when the operation needs a key) and `default`."""
    statuses = sorted({*codes, *(_KEYED if keyed else ())})
    answers = {str(s): c.ref(_RESPONSE_BY_STATUS[s], "responses") for s in statuses}
    return {**answers, "default": c.ref("Unexpected", "responses")}


def _ok(description: str, schema: dict[str, Any], *headers: str) -> dict[str, Any]:
    return {
        "description": description,
        "headers": c.headers(*headers),
        "content": c.json_content(schema),
    }


def _page(item: str, description: str) -> dict[str, Any]:
    return _ok(description, {"type": "array", "items": c.ref(item)}, "Link")


def _operation(tag: str, operation_id: str, summary: str, **fields: Any) -> dict[str, Any]:
    return {"tags": [tag], "operationId": operation_id, "summary": summary, **fields}


def _function_paths() -> dict[str, Any]:
    body = {"required": True, "content": c.json_content(c.ref("FunctionRequest"))}
    return {
        "/functions": {
            "post": _operation(
                "functions",
                "createFunction",
                "Register a function",
                description="Stores the function (revision 1) and queues its build; poll "
                "the function until `status` is READY or FAILED.",
                requestBody=body,
                responses={
                    "201": _ok("Created, compiling", c.ref("Function"), "Location"),
                    **_errors(400, 409, 413, 415, 503),
                },
            ),
            "get": _operation(
                "functions",
                "listFunctions",
                "Functions, newest first",
                parameters=[*c.PAGE_PARAMS, c.NAME_FILTER_PARAM],
                responses={
                    "200": _page("FunctionSummary", "Functions"),
                    **_errors(400, 404, 503),
                },
            ),
        },
        "/functions/{id}": {
            "parameters": [c.ID_PARAM],
            "get": _operation(
                "functions",
                "getFunction",
                "One function",
                responses={"200": _ok("The function", c.ref("Function")), **_errors(400, 404, 503)},
            ),
            "put": _operation(
                "functions",
                "updateFunction",
                "Replace a function",
                description="A new source or language is a new revision, built while `live` "
                "keeps serving; new limits or env only, a new revision READY at once on the "
                "same artifact; anything else changes no revision. `secrets` present "
                "replaces the function's secrets (every revision sees them at once), absent "
                "keeps them; a 503 when NIL_SECRETS_KEY is not set.",
                requestBody=body,
                responses={
                    "200": _ok("Updated", c.ref("Function")),
                    **_errors(400, 404, 409, 413, 415, 503),
                },
            ),
            "delete": _operation(
                "functions",
                "deleteFunction",
                "Delete a function and its executions",
                responses={
                    "204": {"description": "Deleted", "headers": c.headers()},
                    **_errors(400, 404, 503),
                },
            ),
        },
    }


def _execution_paths() -> dict[str, Any]:
    return {
        "/functions/{id}/execute": {
            "parameters": [c.ID_PARAM],
            "post": _operation(
                "executions",
                "executeFunction",
                "Run a READY function and wait for its result",
                description="Runs the revision `live` names, or the one `alias` or "
                "`revision` chooses (a weighted alias decides by the execution's id). A "
                "failure of the function itself (trap, throw, timeout, fuel, memory, invalid "
                "output) is a 200 with `status: FAILED` and an `errorMessage`; a 5xx means "
                "the platform failed. A function with no READY revision yet is 400.",
                parameters=c.CHOICE_PARAMS,
                requestBody={
                    "required": False,
                    "content": c.json_content(c.ref("ExecuteRequest")),
                },
                responses={
                    "200": _ok("Executed (see `status`)", c.ref("Execution")),
                    **_errors(400, 404, 409, 413, 503),
                },
            ),
        },
        "/functions/{id}/invocations": {
            "parameters": [c.ID_PARAM],
            "post": _operation(
                "invocations",
                "invokeFunction",
                "Enqueue an asynchronous execution",
                description="Accepts the execution PENDING (`trigger: async`) and returns "
                "at once; a worker runs it. The revision is chosen now (`live`, `alias` or "
                "`revision`) and recorded. A platform failure or a timeout is retried up to "
                "the function's `retry.maxAttempts` with exponential backoff; deterministic "
                "failures are not. Out of attempts: FAILED with `deadLettered: true`.",
                parameters=[*c.CHOICE_PARAMS, c.IDEMPOTENCY_KEY_PARAM],
                requestBody={
                    "required": False,
                    "content": c.json_content(c.ref("ExecuteRequest")),
                },
                responses={
                    "202": _ok("Accepted, queued", c.ref("Execution"), "Location"),
                    **_errors(400, 404, 409, 413, 503),
                },
            ),
        },
        "/functions/{id}/executions": {
            "parameters": [c.ID_PARAM],
            "get": _operation(
                "executions",
                "listExecutions",
                "A function's executions, newest first",
                parameters=[*c.PAGE_PARAMS, *c.EXECUTION_FILTER_PARAMS],
                responses={
                    "200": _page("ExecutionSummary", "Executions"),
                    **_errors(400, 404, 503),
                },
            ),
        },
        "/executions/{id}": {
            "parameters": [c.ID_PARAM],
            "get": _operation(
                "executions",
                "getExecution",
                "One execution",
                description="With `wait`, answers once the execution has ended or after "
                "`wait` seconds, whichever is first (a long-poll that holds no connection).",
                parameters=[c.WAIT_PARAM],
                responses={
                    "200": _ok("The execution", c.ref("Execution")),
                    **_errors(400, 404, 503),
                },
            ),
        },
        "/executions/{id}/retry": {
            "parameters": [c.ID_PARAM],
            "post": _operation(
                "invocations",
                "retryExecution",
                "Run an execution again, asynchronously",
                description="Enqueues a new execution of the same function with the same "
                "input and revision choice (`live`, the alias or the revision it named), "
                "e.g. a dead letter once its cause is fixed. With `Idempotency-Key`, a "
                "repeat returns the execution the first request started (the key is the "
                "function's, shared with its invocations).",
                parameters=[c.IDEMPOTENCY_KEY_PARAM],
                responses={
                    "202": _ok("Accepted, queued", c.ref("Execution"), "Location"),
                    **_errors(400, 404, 409, 503),
                },
            ),
        },
    }


def _revision_paths() -> dict[str, Any]:
    alias = _ok("The alias", c.ref("Alias"))
    return {
        "/functions/{id}/revisions": {
            "parameters": [c.ID_PARAM],
            "get": _operation(
                "revisions",
                "listRevisions",
                "A function's revisions, newest first",
                parameters=c.REVISION_PAGE_PARAMS,
                responses={
                    "200": _page("RevisionSummary", "Revisions"),
                    **_errors(400, 404, 503),
                },
            ),
        },
        "/functions/{id}/revisions/{revision}": {
            "parameters": [c.ID_PARAM, c.REVISION_PARAM],
            "get": _operation(
                "revisions",
                "getRevision",
                "One revision with its source, limits and env",
                responses={
                    "200": _ok("The revision", c.ref("Revision")),
                    **_errors(400, 404, 503),
                },
            ),
        },
        "/functions/{id}/aliases": {
            "parameters": [c.ID_PARAM],
            "get": _operation(
                "revisions",
                "listAliases",
                "A function's aliases: latest, live, then the others by name",
                responses={
                    "200": _ok("Aliases", {"type": "array", "items": c.ref("Alias")}),
                    **_errors(400, 404, 503),
                },
            ),
        },
        "/functions/{id}/aliases/{name}": {
            "parameters": [c.ID_PARAM, c.ALIAS_PARAM],
            "put": _operation(
                "revisions",
                "setAlias",
                "Point an alias at a revision or at weighted routes",
                description="Creates the alias or moves it, atomically: an execution runs "
                "the old or the new target, never a mix. Setting `live` pins it.",
                requestBody={"required": True, "content": c.json_content(c.ref("AliasRequest"))},
                responses={"200": alias, **_errors(400, 404, 409, 413, 503)},
            ),
            "delete": _operation(
                "revisions",
                "deleteAlias",
                "Delete an alias",
                responses={
                    "204": {"description": "Deleted", "headers": c.headers()},
                    **_errors(400, 404, 503),
                },
            ),
        },
        "/functions/{id}/rollback": {
            "parameters": [c.ID_PARAM],
            "post": _operation(
                "revisions",
                "rollbackFunction",
                "Pin live to the READY revision before it, or to the one named",
                description="Nothing is rebuilt: the revision's artifact is kept (unless it "
                "was pruned: 409). `live` stays pinned until set again or un-pinned with "
                '`{"revision": "latest"}`.',
                requestBody={
                    "required": False,
                    "content": c.json_content(c.ref("RollbackRequest")),
                },
                responses={
                    "200": _ok("live, pinned", c.ref("Alias")),
                    **_errors(400, 404, 409, 413, 503),
                },
            ),
        },
    }


_OPEN = {"security": []}  # the probes never need a key


def _system_paths() -> dict[str, Any]:
    return {
        "/health": {
            "get": _operation(
                "system",
                "health",
                "Liveness: 200 while the process serves",
                **_OPEN,
                responses={"200": _ok("Serving", c.ref("Health")), **_errors(keyed=False)},
            )
        },
        "/ready": {
            "get": _operation(
                "system",
                "ready",
                "Readiness: the database answers with its schema migrated (the runners are"
                " reported in the body, and do not decide)",
                **_OPEN,
                responses={
                    "200": _ok("Ready", c.ref("Readiness")),
                    "503": _ok("Not ready", c.ref("Readiness")),
                    **_errors(keyed=False),
                },
            )
        },
        "/metrics": {
            "get": _operation(
                "system",
                "metrics",
                "Prometheus metrics",
                **_OPEN,
                responses={
                    "200": {
                        "description": "Prometheus text exposition",
                        "headers": c.headers(),
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    },
                    **_errors(keyed=False),
                },
            )
        },
        "/openapi.json": {
            "get": _operation(
                "system",
                "openapi",
                "This document",
                responses={"200": _ok("OpenAPI 3.1", c.ref("OpenApiDocument")), **_errors()},
            )
        },
    }


def _schedule_paths() -> dict[str, Any]:
    sid = {**c.ID_PARAM, "name": "scheduleId", "description": "not a UUID is 400"}
    return {
        "/functions/{id}/schedules": {
            "parameters": [c.ID_PARAM],
            "post": _operation(
                "schedules",
                "createSchedule",
                "Run a function on a cron schedule",
                description="Each tick starts one asynchronous execution of `live` "
                "(`trigger: schedule`, with the function's retries and dead letters) — "
                "exactly one per tick however many schedulers run. A function has at "
                "most 100 schedules: one more is a 409.",
                requestBody={"required": True, "content": c.json_content(c.ref("ScheduleRequest"))},
                responses={
                    "201": _ok("Created", c.ref("Schedule"), "Location"),
                    **_errors(400, 404, 409, 413, 503),
                },
            ),
            "get": _operation(
                "schedules",
                "listSchedules",
                "A function's schedules, oldest first",
                responses={
                    "200": _ok("Schedules", {"type": "array", "items": c.ref("Schedule")}),
                    **_errors(400, 404, 503),
                },
            ),
        },
        "/functions/{id}/schedules/{scheduleId}": {
            "parameters": [c.ID_PARAM, sid],
            "delete": _operation(
                "schedules",
                "deleteSchedule",
                "Delete a schedule",
                responses={
                    "204": {"description": "Deleted", "headers": c.headers()},
                    **_errors(400, 404, 503),
                },
            ),
        },
    }


_ROUTE_METHODS = ("get", "post", "put", "patch", "delete")


def _route_paths() -> dict[str, Any]:
    route = {
        "name": "route",
        "in": "path",
        "required": True,
        "schema": {"type": "string"},
        "description": "A function's route and anything below it (`hello`, `hello/x/y`): the "
        "longest route that prefixes the path answers; none is 404.",
    }
    # Any media type goes; documented as bytes (what generated clients can send and read)
    body = {
        "required": False,
        "content": {"application/octet-stream": {"schema": c.ref("RouteRequest")}},
    }
    answer = {
        "description": "The function's response (any status it chose)",
        "headers": c.headers("X-Nil-Execution-Id"),
        "content": {"application/octet-stream": {"schema": c.ref("RouteResponse")}},
    }
    item: dict[str, Any] = {"parameters": [route]}
    for method in _ROUTE_METHODS:
        fields: dict[str, Any] = {} if method in ("get", "delete") else {"requestBody": body}
        item[method] = _operation(
            "functions",
            f"{method}Route",
            f"Call a function's HTTP route ({method.upper()})",
            description="Runs the route's function (`live`, or `alias`/`revision`) "
            "synchronously on the request, as `trigger: route`. With API keys on, a key is "
            "needed unless the function is `public`. A FAILED execution is 502; a function "
            "with no READY revision yet is 404.",
            parameters=c.CHOICE_PARAMS,
            responses={"200": answer, **_errors(400, 404, 409, 413, 502, 503)},
            **fields,
        )
    return {"/fn/{route}": item}


def _paths() -> dict[str, Any]:
    return {
        **_function_paths(),
        **_revision_paths(),
        **_execution_paths(),
        **_schedule_paths(),
        **_route_paths(),
        **_system_paths(),
    }


def _version() -> str:
    try:
        return metadata.version("nil")
    except metadata.PackageNotFoundError:  # run from a source tree that is not installed
        return "0.0.0"


def _description(settings: Settings) -> str:
    return (
        "Serverless WebAssembly functions.\n\n"
        "**Errors**: every 4xx and 5xx is the `Error` object; every response carries "
        "`X-Request-Id`.\n\n"
        "**Authentication**: with API keys on (`NIL_API_KEYS`), every operation but "
        "`/health`, `/ready` and `/metrics` needs `Authorization: Bearer <key>` (else 401) "
        "and has a rate limit per key (429 with `Retry-After`); with keys off, none does.\n\n"
        f"**Limits**: a request body is at most {settings.max_body_bytes} bytes "
        f"({c.mib(settings.max_body_bytes)}); a function's `source` at most "
        f"{settings.max_source_bytes} bytes of UTF-8; an execution's `input` at most "
        f"{settings.max_input_bytes} bytes as compact JSON. Each is 413.\n\n"
        "**Compatibility**: responses may gain fields and enums may gain values in a minor "
        "version; ignore fields you do not know and treat unknown enum values as 'other'."
    )


def _used_tags(paths: dict[str, Any]) -> list[dict[str, str]]:
    used = {
        tag
        for item in paths.values()
        for key, operation in item.items()
        if key != "parameters"
        for tag in operation["tags"]
    }
    return [{"name": name, "description": text} for name, text in TAGS.items() if name in used]


def _used_responses(paths: dict[str, Any], settings: Settings) -> dict[str, Any]:
    used = set(re.findall(r"#/components/responses/(\w+)", json.dumps(paths)))
    return {name: r for name, r in c.responses(settings).items() if name in used}


@cache
def openapi_document(settings: Settings) -> dict[str, Any]:
    paths = _paths()
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Nil",
            "version": _version(),
            "description": _description(settings),
            "license": {"name": "Proprietary", "identifier": "LicenseRef-Proprietary"},
        },
        "servers": [{"url": "/", "description": "The gateway that served this document"}],
        # Either a bearer key, or none when the gateway runs without API keys.
        "security": [{"bearer": []}, {}],
        "tags": _used_tags(paths),
        "paths": paths,
        "components": {
            "schemas": c.schemas(settings),
            "responses": _used_responses(paths, settings),
            "headers": c.HEADERS,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API key from NIL_API_KEYS",
                }
            },
        },
    }
