"""A function's cron schedules (SPEC §11): create, list, delete. The scheduler service
(scheduler/) fires them; here they are validated and stored with their first tick."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime

from flask import Blueprint, Response, jsonify, url_for

from common.cron import next_tick
from common.db import connection
from common.errors import Conflict, NotFound
from db import functions as functions_repo
from db import schedules as repo
from gateway.errors import ValidationError
from gateway.platform import Platform, json_body, platform
from gateway.serialize import schedule_json
from gateway.validation import parse_schedule, parse_uuid

logger = logging.getLogger(__name__)
bp = Blueprint("schedules", __name__)


def _require_function(p: Platform, fid: uuid.UUID) -> None:
    with connection(p.db) as conn:
        if not functions_repo.function_exists(conn, fid):
            raise NotFound(f"function {fid} not found")


@bp.post("/functions/<function_id>/schedules")
def create_schedule(function_id: str) -> tuple[Response, int, dict[str, str]]:
    p = platform()
    fid = parse_uuid(function_id)
    try:
        request = parse_schedule(json_body(), max_input_bytes=p.settings.max_input_bytes)
    except ValidationError:
        _require_function(p, fid)  # an unknown function is 404 whatever else is asked
        raise
    first = next_tick(request.cron, request.timezone, datetime.now(UTC))
    with connection(p.db) as conn:
        try:
            record = repo.create_schedule(
                conn,
                uuid.uuid4(),
                fid,
                cron=request.cron,
                timezone=request.timezone,
                input_value=request.input,
                next_run_at=first,
            )
        except repo.TooManySchedules as exc:
            raise Conflict(str(exc)) from None
    if record is None:
        raise NotFound(f"function {fid} not found")
    logger.info(
        "schedule.created",
        extra={"scheduleId": str(record.id), "functionId": str(fid), "cron": record.cron},
    )
    location = url_for("schedules.list_schedules", function_id=fid)
    return jsonify(schedule_json(record)), 201, {"Location": f"{location}/{record.id}"}


@bp.get("/functions/<function_id>/schedules")
def list_schedules(function_id: str) -> Response:
    p = platform()
    fid = parse_uuid(function_id)
    _require_function(p, fid)
    with connection(p.db) as conn:
        rows = repo.list_schedules(conn, fid)
    return jsonify([schedule_json(r) for r in rows])


@bp.delete("/functions/<function_id>/schedules/<schedule_id>")
def delete_schedule(function_id: str, schedule_id: str) -> tuple[str, int]:
    p = platform()
    fid = parse_uuid(function_id)
    sid = parse_uuid(schedule_id, "schedule id")
    with connection(p.db) as conn:
        deleted = repo.delete_schedule(conn, fid, sid)
    if not deleted:
        _require_function(p, fid)
        raise NotFound(f"function {fid} has no schedule {sid}")
    logger.info("schedule.deleted", extra={"scheduleId": str(sid), "functionId": str(fid)})
    return "", 204
