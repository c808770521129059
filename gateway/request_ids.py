"""X-Request-Id: taken from the request when sane, else generated; always echoed."""

from __future__ import annotations

import re
import uuid

from flask import Flask, Response, g, has_request_context, request

HEADER = "X-Request-Id"
_SANE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def request_id_from(given: str) -> str:
    """The request's id: the one the client sent when sane, else a new one."""
    return given if _SANE.match(given) else uuid.uuid4().hex


def log_context() -> dict[str, str]:
    """The request id for log records written while serving a request."""
    if has_request_context() and "request_id" in g:
        return {"requestId": g.request_id}
    return {}


def init_app(app: Flask) -> None:
    @app.before_request
    def assign_request_id() -> None:
        g.request_id = request_id_from(request.headers.get(HEADER, ""))

    @app.after_request
    def echo_request_id(response: Response) -> Response:
        if "request_id" in g:
            response.headers[HEADER] = g.request_id
        return response
