"""A function's revisions and aliases, and rollback (SPEC §9).

Every alias change happens in one transaction holding the function's row lock: the
target revisions are checked (READY and not pruned, else 409; unknown, 400) and the
alias row is written, so a concurrent execution sees the alias before or after the
change, and the pruner never removes a revision's artifact as an alias starts to
point at it.
"""

from __future__ import annotations

import logging
from uuid import UUID

import psycopg
from flask import Blueprint, Response, jsonify, request

from common.db import connection, transaction
from common.errors import Conflict, NotFound
from db import aliases as alias_repo
from db import functions as functions_repo
from db import revisions as repo
from db.records import AliasRecord
from db.targets import LIVE
from gateway.errors import ValidationError
from gateway.pagination import page_response
from gateway.platform import json_body, platform
from gateway.serialize import alias_json, revision_json, revision_summary_json
from gateway.validation import (
    parse_alias_name,
    parse_alias_request,
    parse_revision_number,
    parse_revision_page,
    parse_rollback_request,
    parse_uuid,
)

logger = logging.getLogger(__name__)
bp = Blueprint("revisions", __name__)


def _lock(conn: psycopg.Connection, fid: UUID) -> None:
    if not functions_repo.lock_function(conn, fid):
        raise NotFound(f"function {fid} not found")


def _require_function(conn: psycopg.Connection, fid: UUID) -> None:
    if not functions_repo.function_exists(conn, fid):
        raise NotFound(f"function {fid} not found")


@bp.get("/functions/<function_id>/revisions")
def list_revisions(function_id: str) -> Response:
    p = platform()
    fid = parse_uuid(function_id)
    page = parse_revision_page(request.args)
    with connection(p.db) as conn:
        _require_function(conn, fid)
        rows = repo.list_revisions(conn, fid, limit=page.limit, before=page.before_revision)
    items = [revision_summary_json(r) for r in rows]
    return page_response(items, page, "revisions.list_revisions", key="revision", function_id=fid)


@bp.get("/functions/<function_id>/revisions/<revision>")
def get_revision(function_id: str, revision: str) -> Response:
    p = platform()
    fid = parse_uuid(function_id)
    number = parse_revision_number(revision)
    with connection(p.db) as conn:
        found = repo.get_revision(conn, fid, number)
        if found is None:
            _require_function(conn, fid)
            raise NotFound(f"function {fid} has no revision {number}")
    return jsonify(revision_json(found))


@bp.get("/functions/<function_id>/aliases")
def list_aliases(function_id: str) -> Response:
    p = platform()
    fid = parse_uuid(function_id)
    with connection(p.db) as conn:
        _require_function(conn, fid)
        found = alias_repo.list_aliases(conn, fid)
    return jsonify([alias_json(a) for a in found])


def _check_targets(conn: psycopg.Connection, fid: UUID, wanted: list[int]) -> None:
    """Every revision an alias is to point at exists (400) and is READY, unpruned (409)."""
    states = repo.target_states(conn, fid, wanted)
    unknown = [n for n in wanted if n not in states]
    if unknown:
        raise ValidationError(f"function {fid} has no revision {unknown[0]}")
    for n in wanted:
        state = states[n]
        if state.pruned:
            raise Conflict(f"revision {n} was pruned (its artifact is no longer kept)")
        if not state.targetable:
            raise Conflict(
                f"revision {n} is {state.status.value}; only READY revisions are targets"
            )


def _changed(fid: UUID, alias: AliasRecord, event: str = "alias.changed") -> Response:
    logger.info(
        event,
        extra={
            "functionId": str(fid),
            "alias": alias.name,
            "revision": alias.revision,
            "routes": alias.routes,
            "pinned": alias.pinned,
        },
    )
    return jsonify(alias_json(alias))


@bp.put("/functions/<function_id>/aliases/<name>")
def set_alias(function_id: str, name: str) -> Response:
    p = platform()
    fid = parse_uuid(function_id)
    name = parse_alias_name(name)
    body = json_body()
    with transaction(p.db) as conn:
        _lock(conn, fid)  # an unknown function is 404 before the body is judged
        parse_alias_name(name, writable=True)
        wanted = parse_alias_request(body, name)
        if wanted.follow_latest:
            alias = alias_repo.unpin_live(conn, fid)
        else:
            _check_targets(conn, fid, wanted.revisions())
            alias = alias_repo.set_alias(
                conn, fid, name, revision=wanted.revision, routes=wanted.routes
            )
        functions_repo.touch_function(conn, fid)
    return _changed(fid, alias)


@bp.delete("/functions/<function_id>/aliases/<name>")
def delete_alias(function_id: str, name: str) -> tuple[str, int]:
    p = platform()
    fid = parse_uuid(function_id)
    name = parse_alias_name(name)
    with transaction(p.db) as conn:
        _lock(conn, fid)
        parse_alias_name(name, writable=True)
        if name == LIVE:
            raise ValidationError("live cannot be deleted; roll back or set it instead")
        if not alias_repo.delete_alias(conn, fid, name):
            raise NotFound(f"function {fid} has no alias {name}")
        functions_repo.touch_function(conn, fid)
    logger.info("alias.deleted", extra={"functionId": str(fid), "alias": name})
    return "", 204


@bp.post("/functions/<function_id>/rollback")
def rollback(function_id: str) -> Response:
    """Pin `live` to the READY revision before it, or to the one named."""
    p = platform()
    fid = parse_uuid(function_id)
    named = parse_rollback_request(json_body(allow_empty=True))
    with transaction(p.db) as conn:
        _lock(conn, fid)
        target = named if named is not None else _previous(conn, fid)
        _check_targets(conn, fid, [target])
        alias = alias_repo.set_alias(conn, fid, LIVE, revision=target)
        functions_repo.touch_function(conn, fid)
    return _changed(fid, alias, "function.rolled_back")


def _previous(conn: psycopg.Connection, fid: UUID) -> int:
    live = alias_repo.get_alias(conn, fid, LIVE)
    if live is None or live.revision is None:
        raise Conflict(f"function {fid} has no live revision to roll back from")
    previous = repo.ready_before(conn, fid, live.revision)
    if previous is None:
        raise Conflict(f"no READY revision of function {fid} before live revision {live.revision}")
    return previous
