"""Executing functions and reading their history."""

from __future__ import annotations

from uuid import UUID

from flask import Blueprint, Response, jsonify, request, url_for

from common.db import transaction
from db import executions as repo
from db.records import PageCursor
from gateway.errors import NotFound
from gateway.execution import execute_function
from gateway.platform import json_body, platform
from gateway.serialize import execution_json, execution_summary_json
from gateway.validation import parse_execute_input, parse_page, parse_uuid

bp = Blueprint("executions", __name__)
_MIN_UUID = UUID(int=0)


@bp.post("/functions/<function_id>/execute")
def execute(function_id: str) -> Response:
    p = platform()
    fid = parse_uuid(function_id)
    input_value = parse_execute_input(
        json_body(allow_empty=True), max_input_bytes=p.settings.max_input_bytes
    )
    return jsonify(execution_json(execute_function(p, fid, input_value)))


@bp.get("/functions/<function_id>/executions")
def list_executions(function_id: str) -> Response:
    p = platform()
    fid = parse_uuid(function_id)
    page = parse_page(request.args)
    with transaction(p.pool) as conn:
        if repo.get_target(conn, fid) is None:
            raise NotFound(f"function {fid} not found")
        cursor = None
        if page.before_id is not None:
            cursor = repo.execution_cursor(conn, page.before_id)
            if cursor is None:
                raise NotFound(f"no execution {page.before_id} to page before")
        elif page.before_time is not None:
            cursor = PageCursor(page.before_time, _MIN_UUID)
        rows = repo.list_executions(conn, fid, limit=page.limit, before=cursor)
    response = jsonify([execution_summary_json(r) for r in rows])
    if len(rows) == page.limit:
        next_url = url_for(
            "executions.list_executions", function_id=fid, limit=page.limit, before=rows[-1]["id"]
        )
        response.headers["Link"] = f'<{next_url}>; rel="next"'
    return response


@bp.get("/executions/<execution_id>")
def get_execution(execution_id: str) -> Response:
    p = platform()
    eid = parse_uuid(execution_id)
    with transaction(p.pool) as conn:
        record = repo.get_execution(conn, eid)
    if record is None:
        raise NotFound(f"execution {eid} not found")
    return jsonify(execution_json(record))
