"""Executing functions and reading their history."""

from __future__ import annotations

from uuid import UUID

from flask import Blueprint, Response, jsonify, request, url_for

from common.db import connection
from common.errors import NotFound
from common.execution import execute_function
from common.invocation import enqueue
from db import executions as repo
from db import functions as functions_repo
from gateway.errors import ValidationError
from gateway.pagination import page_response, resolve_cursor
from gateway.platform import Platform, json_body, platform
from gateway.serialize import execution_json, execution_summary_json
from gateway.validation import (
    parse_execute_input,
    parse_idempotency_key,
    parse_page,
    parse_revision_choice,
    parse_uuid,
)

bp = Blueprint("executions", __name__)


@bp.post("/functions/<function_id>/execute")
def execute(function_id: str) -> Response:
    p = platform()
    fid = parse_uuid(function_id)
    try:
        choice = parse_revision_choice(request.args)
    except ValidationError:
        _require_function(p, fid)  # an unknown function is 404 whatever else is asked
        raise
    input_value = parse_execute_input(
        json_body(allow_empty=True), max_input_bytes=p.settings.max_input_bytes
    )
    return jsonify(execution_json(execute_function(p.db, p.runners, fid, input_value, choice)))


@bp.post("/functions/<function_id>/invocations")
def invoke(function_id: str) -> tuple[Response, int, dict[str, str]]:
    """Enqueue an asynchronous execution (SPEC §10): 202 with it PENDING."""
    p = platform()
    fid = parse_uuid(function_id)
    try:
        choice = parse_revision_choice(request.args)
        key = parse_idempotency_key(request.headers)
        input_value = parse_execute_input(
            json_body(allow_empty=True), max_input_bytes=p.settings.max_input_bytes
        )
    except ValidationError:
        _require_function(p, fid)  # an unknown function is 404 whatever else is asked
        raise
    record, _created = enqueue(p.db, fid, input_value, choice, idempotency_key=key)
    location = url_for("executions.get_execution", execution_id=record.id)
    return jsonify(execution_json(record)), 202, {"Location": location}


def _require_function(p: Platform, fid: UUID) -> None:
    with connection(p.db) as conn:
        if not functions_repo.function_exists(conn, fid):
            raise NotFound(f"function {fid} not found")


@bp.get("/functions/<function_id>/executions")
def list_executions(function_id: str) -> Response:
    p = platform()
    fid = parse_uuid(function_id)
    page = parse_page(request.args)
    _require_function(p, fid)
    with connection(p.db) as conn:
        cursor = resolve_cursor(page, lambda eid: repo.execution_cursor(conn, eid), "execution")
        rows = repo.list_executions(conn, fid, limit=page.limit, before=cursor)
    return page_response(
        [execution_summary_json(e) for e in rows],
        page,
        "executions.list_executions",
        function_id=fid,
    )


@bp.get("/executions/<execution_id>")
def get_execution(execution_id: str) -> Response:
    p = platform()
    eid = parse_uuid(execution_id)
    with connection(p.db) as conn:
        record = repo.get_execution(conn, eid)
    if record is None:
        raise NotFound(f"execution {eid} not found")
    return jsonify(execution_json(record))
