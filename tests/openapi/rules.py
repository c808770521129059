"""The rules every operation of the OpenAPI document must pass, beyond what Redocly
checks, so that endpoints added later are held to what generated clients need
(issue 22): one known tag; error responses in the Error shape, with `default`; typed
request and response bodies; the headers the gateway always sends."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from gateway.openapi import TAGS

METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
# The one open schema on purpose: a JSON array's items (see gateway/openapi_components.py).
OPEN_SCHEMAS = frozenset({"#/components/schemas/JsonValue/anyOf/4/items"})
_COMPOSITIONS = ("anyOf", "oneOf", "allOf")
_TYPED_BY = ("type", "$ref", "enum", "const", *_COMPOSITIONS)


def operations(doc: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, item in doc["paths"].items():
        for method in METHODS:
            if method in item:
                yield f"{method.upper()} {path}", item[method]


def resolve(doc: dict[str, Any], node: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    """Follow a local $ref: the pointer it names and its target (or None and `node`)."""
    pointer = node.get("$ref")
    if pointer is None:
        return None, node
    target: Any = doc
    for part in pointer.removeprefix("#/").split("/"):
        target = target[part.replace("~1", "/").replace("~0", "~")]
    return pointer, target


def document_problems(doc: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    listed = {tag["name"] for tag in doc.get("tags", [])}
    seen_ids: set[str] = set()
    for name, op in operations(doc):
        problems += [f"{name}: {p}" for p in _operation_problems(doc, op, listed, seen_ids)]
    return problems


def _operation_problems(
    doc: dict[str, Any], op: dict[str, Any], listed: set[str], seen_ids: set[str]
) -> Iterator[str]:
    operation_id = op.get("operationId")
    if not operation_id or operation_id in seen_ids:
        yield f"operationId missing or not unique: {operation_id!r}"
    seen_ids.add(operation_id or "")
    tags = op.get("tags", [])
    if len(tags) != 1 or tags[0] not in TAGS or tags[0] not in listed:
        yield f"needs exactly one tag of {sorted(TAGS)} listed in the document's tags: {tags}"
    yield from _error_problems(doc, op)
    yield from _body_problems(doc, op)


def _error_problems(doc: dict[str, Any], op: dict[str, Any]) -> Iterator[str]:
    responses = op.get("responses", {})
    if "default" not in responses:
        yield "no `default` response"
    keyed = op.get("security", doc.get("security")) != []
    if keyed and not {"401", "429"} <= set(responses):
        yield "needs a key but documents no 401 and 429"
    if keyed and not any(s.startswith("4") for s in responses):
        yield "no 4xx response"
    for status, response in responses.items():
        target = resolve(doc, response)[1]
        headers = target.get("headers", {})
        where = f"response {status}"
        if "X-Request-Id" not in headers:
            yield f"{where}: no X-Request-Id header"
        if status == "201" and "Location" not in headers:
            yield f"{where}: no Location header"
        if status in ("429", "503") and _is_error(target) and "Retry-After" not in headers:
            yield f"{where}: no Retry-After header"
        if (status == "default" or status[0] == "4") and not _is_error(target):
            yield f"{where}: not the Error shape"


def _is_error(response: dict[str, Any]) -> bool:
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    return schema.get("$ref") == "#/components/schemas/Error"


def _body_problems(doc: dict[str, Any], op: dict[str, Any]) -> Iterator[str]:
    bodies = []
    if "requestBody" in op:
        bodies.append(("request body", resolve(doc, op["requestBody"])[1]))
    for status, response in op.get("responses", {}).items():
        bodies.append((f"response {status}", resolve(doc, response)[1]))
    for where, body in bodies:
        for media, content in body.get("content", {}).items():
            for pointer in untyped_schemas(doc, content.get("schema", {}), f"{where} {media}"):
                yield f"untyped schema at {pointer}"


def untyped_schemas(doc: dict[str, Any], schema: dict[str, Any], where: str) -> list[str]:
    """Pointers to schemas reachable from `schema` that say nothing of their value:
    `{}`, or an object with neither properties nor additionalProperties."""
    found: list[str] = []
    stack = [(where, schema)]
    visited: set[str] = set()
    while stack:
        pointer, node = stack.pop()
        if pointer in OPEN_SCHEMAS:
            continue
        ref, node = resolve(doc, node)
        if ref is not None:
            if ref in visited:
                continue
            visited.add(ref)
            pointer = ref
        if not any(key in node for key in _TYPED_BY):
            found.append(pointer)
        elif _is_object(node) and not {"properties", "additionalProperties"} & set(node):
            found.append(pointer)
        elif _is_type(node, "array") and "items" not in node:
            found.append(pointer)
        stack.extend(_children(pointer, node))
    return found


def _is_object(node: dict[str, Any]) -> bool:
    return _is_type(node, "object")


def _is_type(node: dict[str, Any], name: str) -> bool:
    kind = node.get("type")
    return kind == name or (isinstance(kind, list) and name in kind)


def _children(pointer: str, node: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, child in node.get("properties", {}).items():
        yield f"{pointer}/properties/{name}", child
    for key in ("items", "additionalProperties"):
        if isinstance(node.get(key), dict):
            yield f"{pointer}/{key}", node[key]
    for key in _COMPOSITIONS:
        for i, child in enumerate(node.get(key, [])):
            yield f"{pointer}/{key}/{i}", child
