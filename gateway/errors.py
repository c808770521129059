"""API errors and the one handler that renders SPEC §3's JSON error shape (the errors
shared code raises are in common/errors.py)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from flask import Flask, Response, current_app, g, jsonify
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from common.errors import BadRequest, NilError

logger = logging.getLogger(__name__)


class ValidationError(BadRequest):
    """The request is invalid."""


class PayloadTooLarge(NilError, status=413, error="Payload Too Large"):
    """The request is larger than the platform accepts."""


class UnsupportedLanguage(NilError, status=415, error="Unsupported Media Type"):
    """The language is not supported."""


def error_body(status: int, error: str, message: str, request_id: str | None = None) -> dict:
    """SPEC §3's error shape; also written by the worker for errors before the app."""
    body = {
        "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "status": status,
        "error": error,
        "message": message,
    }
    if request_id:
        body["requestId"] = request_id
    return body


def error_response(status: int, error: str, message: str) -> Response:
    response = jsonify(error_body(status, error, message, g.get("request_id")))
    response.status_code = status
    return response


def init_app(app: Flask) -> None:
    @app.errorhandler(NilError)
    def handle_nil_error(exc: NilError) -> Response:
        if exc.status >= 500:
            logger.warning("request.failed", extra={"status": exc.status, "error": exc.message})
        response = error_response(exc.status, exc.error, exc.message)
        if exc.retry_after is not None:
            response.headers["Retry-After"] = str(exc.retry_after)
        return response

    @app.errorhandler(RequestEntityTooLarge)
    def handle_body_too_large(exc: RequestEntityTooLarge) -> Response:
        """Werkzeug's body limit (MAX_CONTENT_LENGTH), in the words of the app's own 413s."""
        limit = current_app.config["MAX_CONTENT_LENGTH"]
        return handle_nil_error(PayloadTooLarge(f"the request body must be at most {limit} bytes"))

    @app.errorhandler(HTTPException)
    def handle_http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        response = error_response(status, exc.name, exc.description or exc.name)
        if status == 405 and exc.get_response().headers.get("Allow"):
            response.headers["Allow"] = exc.get_response().headers["Allow"]
        return response

    @app.errorhandler(Exception)
    def handle_unexpected(exc: Exception) -> Response:
        logger.exception("request.crashed")
        return error_response(500, "Internal Server Error", "Unexpected platform failure.")
