"""Executing functions and reading their history."""

from __future__ import annotations

import time
from uuid import UUID

from flask import Blueprint, Response, jsonify, request, url_for

from common.db import connection
from common.errors import NotFound
from common.execution import execute_function
from common.idempotency import FINISHED, wait_until_ended
from common.invocation import enqueue
from db import executions as repo
from db import functions as functions_repo
from gateway.errors import ValidationError
from gateway.pagination import page_response, resolve_cursor
from gateway.platform import Platform, json_body, platform
from gateway.serialize import execution_json, execution_summary_json
from gateway.validation import (
    parse_execute_input,
    parse_execution_filter,
    parse_idempotency_key,
    parse_page,
    parse_revision_choice,
    parse_uuid,
    parse_wait,
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
    try:
        key = parse_idempotency_key(request.headers)
    except ValidationError:
        _require_function(p, fid)
        raise
    input_value = parse_execute_input(
        json_body(allow_empty=True), max_input_bytes=p.settings.max_input_bytes
    )
    record = execute_function(
        p.db,
        p.runners,
        fid,
        input_value,
        choice,
        idempotency_key=key,
        watch=p.watch,
        keyring=p.keyring,
    )
    return jsonify(execution_json(record))


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
    only = parse_execution_filter(request.args)
    _require_function(p, fid)
    with connection(p.db) as conn:
        cursor = resolve_cursor(page, lambda eid: repo.execution_cursor(conn, eid), "execution")
        rows = repo.list_executions(
            conn,
            fid,
            limit=page.limit,
            before=cursor,
            status=only.status,
            dead_lettered=only.dead_lettered,
        )
    filters = {
        k: v
        for k, v in (
            ("status", request.args.get("status")),
            ("deadLettered", request.args.get("deadLettered")),
        )
        if v is not None
    }
    return page_response(
        [execution_summary_json(e) for e in rows],
        page,
        "executions.list_executions",
        function_id=fid,
        **filters,
    )


@bp.post("/executions/<execution_id>/retry")
def retry_execution(execution_id: str) -> tuple[Response, int, dict[str, str]]:
    """A new asynchronous execution of the same function, input and revision choice
    (SPEC §10): how a dead letter is run again once its cause is fixed. Any finished or
    unfinished execution may be run again; an Idempotency-Key makes a resent request
    return the execution the first one started (keys are per function, as on
    invocations)."""
    p = platform()
    eid = parse_uuid(execution_id)
    key = parse_idempotency_key(request.headers)  # a client that resends runs it once
    with connection(p.db) as conn:
        source = repo.retry_source(conn, eid)
    if source is None:
        raise NotFound(f"execution {eid} not found")
    fid, input_value, choice = source
    record, _created = enqueue(p.db, fid, input_value, choice, idempotency_key=key)
    location = url_for("executions.get_execution", execution_id=record.id)
    return jsonify(execution_json(record)), 202, {"Location": location}


@bp.get("/executions/<execution_id>")
def get_execution(execution_id: str) -> Response:
    """One execution; with `?wait=S`, once it has ended or S seconds passed. The wait
    holds no database connection: under the gateway's worker it is parked on the
    connection's greenlet (gateway/worker.py), elsewhere it blocks this thread on the
    process's one LISTEN connection (common/notifications.py)."""
    p = platform()
    eid = parse_uuid(execution_id)
    wait = parse_wait(request.args)
    record = _read_execution(p, eid)
    deadline = request.environ.get("nil.deadline") or time.monotonic() + wait
    if record.status in FINISHED or deadline <= time.monotonic():
        return jsonify(execution_json(record))
    park = request.environ.get("nil.park")
    if park is not None:  # the worker waits on its greenlet, then calls the app again
        park(p.watch, eid, deadline)
        return jsonify(execution_json(record))
    ended = wait_until_ended(p.db, p.watch, record, deadline)
    if ended is None:  # deleted with its function meanwhile
        raise NotFound(f"execution {eid} not found")
    return jsonify(execution_json(ended))


def _read_execution(p: Platform, eid: UUID):
    with connection(p.db) as conn:
        record = repo.get_execution(conn, eid)
    if record is None:
        raise NotFound(f"execution {eid} not found")
    return record
