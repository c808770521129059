"""/functions: register, list, read, replace and delete functions. A POST is revision 1;
a PUT makes a new revision when what runs changes (db/functions.py, SPEC §9)."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, jsonify, request, url_for

from common.contracts import CompilationJob
from common.db import connection, transaction
from common.errors import NotFound
from db import functions as repo
from db import secrets as secrets_repo
from db.records import FunctionRecord, FunctionSpec
from gateway.pagination import page_response, resolve_cursor
from gateway.platform import Platform, json_body, platform
from gateway.serialize import function_json, function_summary_json
from gateway.validation import parse_function_spec, parse_name_filter, parse_page, parse_uuid

logger = logging.getLogger(__name__)
bp = Blueprint("functions", __name__)


def _spec_from_request(p: Platform):
    return parse_function_spec(
        json_body(), policy=p.policy, max_source_bytes=p.settings.max_source_bytes
    )


def _publish(p: Platform, conn, record: FunctionRecord) -> None:
    job = CompilationJob(str(record.id), record.revision, record.language, record.source)
    p.queues.publish_job(conn, job)


def _store_secrets(p: Platform, conn, record: FunctionRecord, spec: FunctionSpec) -> list[str]:
    """Replace the function's secrets when the request has `secrets`; their names."""
    if spec.secrets is None:
        return secrets_repo.secret_names(conn, record.id)
    sealed = [p.keyring.seal(record.id, name, value) for name, value in spec.secrets.items()]
    secrets_repo.replace_secrets(conn, record.id, sealed)
    return sorted(spec.secrets)


def _log_published(record: FunctionRecord) -> None:
    logger.info(
        "compilation.job.published",
        extra={"functionId": str(record.id), "revision": record.revision},
    )


@bp.post("/functions")
def create_function() -> tuple[Response, int, dict[str, str]]:
    p = platform()
    spec = _spec_from_request(p)
    with transaction(p.db) as conn:
        record = repo.create_function(conn, spec)
        names = _store_secrets(p, conn, record, spec)
        _publish(p, conn, record)
    logger.info(
        "function.created", extra={"functionId": str(record.id), "language": record.language}
    )
    _log_published(record)
    location = url_for("functions.get_function", function_id=record.id)
    return jsonify(function_json(record, names)), 201, {"Location": location}


@bp.get("/functions")
def list_functions() -> Response:
    p = platform()
    page = parse_page(request.args)
    name = parse_name_filter(request.args)  # exact: how `nil deploy` finds what to update
    with connection(p.db) as conn:
        cursor = resolve_cursor(page, lambda fid: repo.function_cursor(conn, fid), "function")
        rows = repo.list_functions(conn, limit=page.limit, before=cursor, name=name)
    items = [function_summary_json(r) for r in rows]
    extra = {"name": name} if name is not None else {}
    return page_response(items, page, "functions.list_functions", **extra)


@bp.get("/functions/<function_id>")
def get_function(function_id: str) -> Response:
    p = platform()
    fid = parse_uuid(function_id)
    with connection(p.db) as conn:
        record = repo.get_function(conn, fid)
        names = secrets_repo.secret_names(conn, fid) if record else []
    if record is None:
        raise NotFound(f"function {fid} not found")
    return jsonify(function_json(record, names))


@bp.put("/functions/<function_id>")
def update_function(function_id: str) -> Response:
    p = platform()
    fid = parse_uuid(function_id)
    spec = _spec_from_request(p)
    with transaction(p.db) as conn:
        update = repo.update_function(conn, fid, spec)
        if update is None:
            raise NotFound(f"function {fid} not found")
        record = update.function
        names = _store_secrets(p, conn, record, spec)
        if update.compile:
            _publish(p, conn, record)
    logger.info(
        "function.updated",
        extra={
            "functionId": str(fid),
            "revision": record.revision,
            "newRevision": update.new_revision,
            "recompile": update.compile,
            "liveRevision": record.live_revision,
            "secretsReplaced": spec.secrets is not None,
        },
    )
    if update.compile:
        _log_published(record)
    return jsonify(function_json(record, names))


@bp.delete("/functions/<function_id>")
def delete_function(function_id: str) -> tuple[str, int]:
    p = platform()
    fid = parse_uuid(function_id)
    with transaction(p.db) as conn:
        deleted = repo.delete_function(conn, fid)
    if not deleted:
        raise NotFound(f"function {fid} not found")
    logger.info("function.deleted", extra={"functionId": str(fid)})
    return "", 204
