"""Liveness, readiness, metrics and the OpenAPI document."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from common.db import translate_errors
from common.errors import NilError
from gateway.openapi import openapi_document
from gateway.platform import platform

bp = Blueprint("system", __name__)


@bp.get("/health")
def health() -> Response:
    """Liveness. Under gunicorn the gateway's connection reader answers it before the
    app (gateway/worker.py), so calls holding every app thread cannot starve it."""
    return jsonify({"status": "UP"})


@bp.get("/ready")
def ready() -> tuple[Response, int]:
    """Readiness: this pod can serve, i.e. its database answers (with the schema
    migrated). The runners are reported in the body (and in metrics) but do not decide:
    runners shared by every gateway being busy, or replaced, must not turn every gateway
    NotReady at once; a call then waits for a runner or gets its own 503."""
    p = platform()
    components = {"database": _database_state(p), "runners": _runner_state(p)}
    up = components["database"]["status"] == "UP"
    return jsonify({"status": "UP" if up else "DOWN", "components": components}), (
        200 if up else 503
    )


def _database_state(p) -> dict:
    try:
        with translate_errors(), p.db.connection(timeout=2) as conn:
            conn.execute("SELECT 1 FROM functions LIMIT 1")  # SchemaNotReady before migrations
        return {"status": "UP"}
    except NilError as exc:
        return {"status": "DOWN", "message": exc.message}


def _runner_state(p) -> dict:
    """Runners count as up when they answer their health check, busy or not: a pool whose
    every runner is in a call is working, and readiness must not flap with load."""
    pool = p.runners.status()
    return {
        "status": "UP" if pool.healthy else "DOWN",
        "healthy": pool.healthy,
        "size": pool.size,
        "busy": pool.busy,
        "idle": pool.idle,
    }


@bp.get("/openapi.json")
def openapi() -> Response:
    return jsonify(openapi_document(platform().settings))
