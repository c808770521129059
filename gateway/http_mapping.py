"""Functions as web endpoints (SPEC §11): an HTTP request as a function's input, and its
output as the HTTP response — the shape of AWS Lambda function URLs' payloads (format
2.0, simplified), so handlers port. No Flask and no IO here: plain data in and out.

Input: `{method, path, query, headers, body, isBase64Encoded}` — `path` as requested
(`/fn/hello/x`), `query` an object (repeated keys joined by commas), `headers` with
lowercase names (repeated ones joined by ", ", hop-by-hop headers dropped), `body` the
request body as text, or base64 with `isBase64Encoded: true` when it is not UTF-8.
Output: an object with `statusCode` is the response (`headers`, `body`,
`isBase64Encoded`, `cookies`); anything else is a 200 `application/json` of it.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from common.jsonvalues import compact

# RFC 9110 §7.6.1: meaningful for one connection only, never forwarded.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
# Set by the platform from the body it sends: a function's own values are dropped.
FRAMING = frozenset({"content-length", "transfer-encoding"})
MAX_RESPONSE_HEADERS = 100
MAX_RESPONSE_HEADER_BYTES = 64 * 1024  # names and values of all headers together
EXECUTION_HEADER = "X-Nil-Execution-Id"


class InvalidResponse(ValueError):
    """The function's output has a `statusCode` but is not a valid response."""


def route_prefixes(path: str) -> list[str]:
    """The candidate routes of a request to /fn/{path}: every leading run of segments,
    longest first (`api/users/7` → `api/users/7`, `api/users`, `api`)."""
    segments = [s for s in path.split("/") if s]
    return ["/".join(segments[:n]) for n in range(len(segments), 0, -1)]


def request_input(
    method: str,
    path: str,
    query: Iterable[tuple[str, str]],
    headers: Iterable[tuple[str, str]],
    body: bytes,
    *,
    drop_headers: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    merged_query: dict[str, str] = {}
    for key, value in query:
        merged_query[key] = f"{merged_query[key]},{value}" if key in merged_query else value
    merged_headers: dict[str, str] = {}
    for name, value in headers:
        lower = name.lower()
        if lower in HOP_BY_HOP or lower in drop_headers:
            continue
        previous = merged_headers.get(lower)
        merged_headers[lower] = f"{previous}, {value}" if previous is not None else value
    try:
        text, encoded = body.decode("utf-8"), False
        if "\x00" in text:  # PostgreSQL's jsonb cannot hold NUL: carry it as base64
            raise UnicodeDecodeError("utf-8", body, 0, 1, "NUL")
    except UnicodeDecodeError:
        text, encoded = base64.b64encode(body).decode("ascii"), True
    return {
        "method": method,
        "path": path,
        "query": merged_query,
        "headers": merged_headers,
        "body": text,
        "isBase64Encoded": encoded,
    }


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""


def response_of(output: Any) -> HttpResponse:
    """The HTTP response a function's output stands for (raises InvalidResponse)."""
    if not isinstance(output, dict) or "statusCode" not in output:
        body = compact(output).encode()
        return HttpResponse(200, [("Content-Type", "application/json")], body)
    status = output["statusCode"]
    if isinstance(status, float) and status.is_integer():
        status = int(status)
    # 1xx are interim answers, never a final response: one would desynchronise the
    # client's connection
    if isinstance(status, bool) or not isinstance(status, int) or not 200 <= status <= 599:
        raise InvalidResponse("statusCode must be an integer from 200 to 599")
    headers = _headers(output.get("headers"))
    for cookie in _cookies(output.get("cookies")):
        headers.append(("Set-Cookie", cookie))
    body = _body(output.get("body"), output.get("isBase64Encoded", False))
    if not any(name.lower() == "content-type" for name, _ in headers) and body:
        headers.append(("Content-Type", "application/json"))  # Lambda's default too
    return HttpResponse(status, headers, body)


def _headers(raw: Any) -> list[tuple[str, str]]:
    if raw is None:
        return []
    if not isinstance(raw, dict):
        raise InvalidResponse("headers must be an object of strings")
    if len(raw) > MAX_RESPONSE_HEADERS:
        raise InvalidResponse(f"headers must be at most {MAX_RESPONSE_HEADERS}")
    headers = []
    size = 0
    for name, value in raw.items():
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise InvalidResponse(f"headers.{name[:64]} must be a string")
        lower = name.lower()
        if lower in HOP_BY_HOP or lower in FRAMING or lower == EXECUTION_HEADER.lower():
            continue
        text = str(value)
        if not _token(name) or not _field_value(text):
            raise InvalidResponse(
                f"header {name[:64]!r} is not a valid HTTP header (values are printable"
                " Latin-1 text)"
            )
        size += len(name) + len(text)
        if size > MAX_RESPONSE_HEADER_BYTES:
            raise InvalidResponse(f"headers must be at most {MAX_RESPONSE_HEADER_BYTES} bytes")
        headers.append((name, text))
    return headers


def _field_value(text: str) -> bool:
    """RFC 9110 field-value: visible characters, spaces and tabs; obs-text (Latin-1
    0x80-0xFF) as gunicorn accepts — no control characters, nothing past Latin-1."""
    return all(c in " \t" or "\x21" <= c <= "\x7e" or "\x80" <= c <= "\xff" for c in text)


def _token(name: str) -> bool:
    return bool(name) and all(c.isascii() and (c.isalnum() or c in "!#$%&'*+-.^_`|~") for c in name)


def _cookies(raw: Any) -> list[str]:
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(c, str) for c in raw):
        raise InvalidResponse("cookies must be an array of strings")
    if not all(_field_value(c) for c in raw):
        raise InvalidResponse("cookies must be printable Latin-1 text (no line breaks)")
    return raw


def _body(raw: Any, encoded: Any) -> bytes:
    if not isinstance(encoded, bool):
        raise InvalidResponse("isBase64Encoded must be true or false")
    if raw is None:
        return b""
    if not isinstance(raw, str):  # an object or a number: its JSON, as Lambda does
        return compact(raw).encode()
    if not encoded:
        return raw.encode("utf-8")
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidResponse("body is not valid base64 (isBase64Encoded is true)") from None
