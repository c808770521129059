"""The OpenAPI 3 description of the gateway (kept true by tests/unit/test_openapi.py)."""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

from common.contracts import LANGUAGES
from gateway.settings import Settings


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    """The listed statuses, plus 401 and 429 that API keys can bring to any of them."""
    return {str(c): {"$ref": "#/components/responses/Error"} for c in sorted({*codes, 401, 429})}


_NO_NUL = "^[^\\u0000]*$"  # PostgreSQL text cannot hold NUL
_TS = {"type": "string", "format": "date-time"}
_NULLABLE_TS = {"type": ["string", "null"], "format": "date-time"}
_ID_PARAM = {
    "name": "id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "format": "uuid"},
}
_PAGE_PARAMS = [
    {
        "name": "limit",
        "in": "query",
        "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
    },
    {
        "name": "before",
        "in": "query",
        "description": "rows older than this id (404 if there is no such row) or timestamp",
        "schema": {
            "anyOf": [
                {"type": "string", "format": "uuid"},
                {"type": "string", "format": "date-time"},
            ]
        },
    },
]
_LIMITS = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "timeoutMs": {"type": "integer", "minimum": 1},
        "memoryMb": {"type": "integer", "minimum": 1},
        "fuel": {"type": "integer", "minimum": 1},
    },
}
_ISOLATION = {
    "type": "string",
    "enum": ["shared", "dedicated"],
    "description": "shared: the common runner pool; dedicated: runners reserved for this "
    "function, started on first call and reaped when idle",
}
_STATUS = {"type": "string", "enum": ["PENDING", "COMPILING", "READY", "FAILED"]}
_EXEC_STATUS = {"type": "string", "enum": ["PENDING", "RUNNING", "COMPLETED", "FAILED"]}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["timestamp", "status", "error", "message"],
        "properties": {
            "timestamp": _TS,
            "status": {"type": "integer"},
            "error": {"type": "string"},
            "message": {"type": "string"},
            "requestId": {"type": "string"},
        },
    },
    "FunctionRequest": {
        "type": "object",
        "required": ["name", "language", "source"],
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": _NO_NUL},
            "description": {"type": ["string", "null"], "maxLength": 4096, "pattern": _NO_NUL},
            "language": {"type": "string", "enum": list(LANGUAGES)},
            "source": {"type": "string", "minLength": 1, "pattern": _NO_NUL},
            "limits": _LIMITS,
            "isolation": _ISOLATION,
        },
    },
    "Function": {
        "type": "object",
        "required": [
            "id",
            "name",
            "language",
            "source",
            "status",
            "revision",
            "limits",
            "createdAt",
            "updatedAt",
        ],
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "name": {"type": "string"},
            "description": {"type": ["string", "null"]},
            "language": {"type": "string"},
            "source": {"type": "string"},
            "status": _STATUS,
            "compileError": {"type": ["string", "null"]},
            "revision": {"type": "integer", "minimum": 1},
            "limits": {**_LIMITS, "required": ["timeoutMs", "memoryMb", "fuel"]},
            "isolation": _ISOLATION,
            "wasmSize": {"type": ["integer", "null"]},
            "wasmSha256": {"type": ["string", "null"]},
            "createdAt": _TS,
            "updatedAt": _TS,
        },
    },
    "FunctionSummary": {
        "type": "object",
        "required": ["id", "name", "language", "status", "createdAt", "updatedAt"],
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "name": {"type": "string"},
            "language": {"type": "string"},
            "status": _STATUS,
            "createdAt": _TS,
            "updatedAt": _TS,
        },
    },
    "ExecuteRequest": {
        "type": "object",
        "properties": {
            "input": {"anyOf": [{"type": "null"}, _ref("JsonObject")]},
        },
    },
    # JSON that PostgreSQL's jsonb can store: no NUL in any key or string.
    "JsonObject": {
        "type": "object",
        "propertyNames": {"pattern": _NO_NUL},
        "additionalProperties": _ref("JsonValue"),
    },
    "JsonValue": {
        "anyOf": [
            {"type": ["null", "boolean", "number"]},
            {"type": "string", "pattern": _NO_NUL},
            {"type": "array", "items": {"$ref": "#/components/schemas/JsonValue"}},
            _ref("JsonObject"),
        ]
    },
    "Execution": {
        "type": "object",
        "required": ["id", "functionId", "status", "input", "createdAt"],
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "functionId": {"type": "string", "format": "uuid"},
            "status": _EXEC_STATUS,
            "input": {"type": "object"},
            "output": {},
            "errorMessage": {"type": ["string", "null"]},
            "durationMs": {"type": ["number", "null"]},
            "fuelUsed": {"type": ["integer", "null"]},
            "logs": {
                "type": ["string", "null"],
                "description": "What the function printed (stdout, stderr, console), capped;"
                " a capped log ends with a truncation marker.",
            },
            "startedAt": _NULLABLE_TS,
            "completedAt": _NULLABLE_TS,
            "createdAt": _TS,
        },
    },
    "ExecutionSummary": {
        "type": "object",
        "required": ["id", "status"],
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "status": _EXEC_STATUS,
            "startedAt": _NULLABLE_TS,
            "completedAt": _NULLABLE_TS,
            "durationMs": {"type": ["number", "null"]},
        },
    },
    "Probe": {
        "type": "object",
        "required": ["status"],
        "properties": {"status": {"type": "string"}, "components": {"type": "object"}},
    },
}


def _paths() -> dict[str, Any]:
    body = {"required": True, "content": {"application/json": {"schema": _ref("FunctionRequest")}}}
    return {
        "/functions": {
            "post": {
                "operationId": "createFunction",
                "summary": "Register a function",
                "requestBody": body,
                "responses": {
                    "201": _json(_ref("Function"), "Created, compiling"),
                    **_errors(400, 413, 415, 503),
                },
            },
            "get": {
                "operationId": "listFunctions",
                "summary": "Functions, newest first",
                "parameters": _PAGE_PARAMS,
                "responses": {
                    "200": _json({"type": "array", "items": _ref("FunctionSummary")}, "Functions"),
                    **_errors(400, 404, 503),
                },
            },
        },
        "/functions/{id}": {
            "parameters": [_ID_PARAM],
            "get": {
                "operationId": "getFunction",
                "summary": "One function",
                "responses": {
                    "200": _json(_ref("Function"), "The function"),
                    **_errors(400, 404, 503),
                },
            },
            "put": {
                "operationId": "updateFunction",
                "summary": "Replace a function",
                "requestBody": body,
                "responses": {
                    "200": _json(_ref("Function"), "Updated"),
                    **_errors(400, 404, 413, 415, 503),
                },
            },
            "delete": {
                "operationId": "deleteFunction",
                "summary": "Delete a function",
                "responses": {"204": {"description": "Deleted"}, **_errors(400, 404, 503)},
            },
        },
        "/functions/{id}/execute": {
            "parameters": [_ID_PARAM],
            "post": {
                "operationId": "executeFunction",
                "summary": "Run a READY function",
                "requestBody": {
                    "required": False,
                    "content": {"application/json": {"schema": _ref("ExecuteRequest")}},
                },
                "responses": {
                    "200": _json(_ref("Execution"), "Executed (see status)"),
                    **_errors(400, 404, 413, 503),
                },
            },
        },
        "/functions/{id}/executions": {
            "parameters": [_ID_PARAM],
            "get": {
                "operationId": "listExecutions",
                "summary": "Executions, newest first",
                "parameters": _PAGE_PARAMS,
                "responses": {
                    "200": _json({"type": "array", "items": _ref("ExecutionSummary")}, "History"),
                    **_errors(400, 404, 503),
                },
            },
        },
        "/executions/{id}": {
            "parameters": [_ID_PARAM],
            "get": {
                "operationId": "getExecution",
                "summary": "One execution",
                "responses": {
                    "200": _json(_ref("Execution"), "The execution"),
                    **_errors(400, 404, 503),
                },
            },
        },
        "/health": {
            "get": {
                "operationId": "health",
                "summary": "Liveness",
                "responses": {"200": _json(_ref("Probe"), "Serving")},
            }
        },
        "/ready": {
            "get": {
                "operationId": "ready",
                "summary": "Readiness",
                "responses": {
                    "200": _json(_ref("Probe"), "Ready"),
                    "503": _json(_ref("Probe"), "Not ready"),
                },
            }
        },
        "/metrics": {
            "get": {
                "operationId": "metrics",
                "summary": "Prometheus metrics",
                "responses": {
                    "200": {
                        "description": "Text exposition",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    }
                },
            }
        },
        "/openapi.json": {
            "get": {
                "operationId": "openapi",
                "summary": "This document",
                "responses": {"200": _json({"type": "object"}, "OpenAPI")},
            }
        },
    }


def _with_settings(settings: Settings) -> dict[str, Any]:
    """The schemas, with the limits this gateway is configured with."""
    schemas = copy.deepcopy(SCHEMAS)
    request = schemas["FunctionRequest"]["properties"]
    request["source"]["maxLength"] = settings.max_source_bytes
    request["source"]["description"] = f"at most {settings.max_source_bytes} bytes as UTF-8"
    maxima = {
        "timeoutMs": settings.max_timeout_ms,
        "memoryMb": settings.max_memory_mb,
        "fuel": settings.max_fuel,
    }
    for field, maximum in maxima.items():
        request["limits"]["properties"][field]["maximum"] = maximum
    return schemas


@cache
def openapi_document(settings: Settings) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Nil",
            "version": "0.1.0",
            "description": "Serverless WebAssembly functions.",
        },
        "paths": _paths(),
        "components": {
            "schemas": _with_settings(settings),
            "responses": {"Error": _json(_ref("Error"), "An error (SPEC §3 shape)")},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
