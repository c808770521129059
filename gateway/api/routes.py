"""Functions as web endpoints (SPEC §11): any method on /fn/{route} and below it runs
the function whose route is the longest prefix of the path, synchronously, on the
request (gateway/http_mapping.py), and answers with what it returned.

The hot path is execute's: the route is looked up in the statement that starts the
execution (db/executions.py), with the API-key check folded in (`public`), so a route
call costs no round trip more than POST /functions/{id}/execute.
"""

from __future__ import annotations

from flask import Blueprint, Response, request

from common.contracts import ExecutionStatus
from common.db import connection
from common.errors import NotFound, Unauthorized
from common.execution import execute_route
from db import functions as functions_repo
from gateway import auth
from gateway.errors import ValidationError, error_response
from gateway.http_mapping import (
    EXECUTION_HEADER,
    InvalidResponse,
    request_input,
    response_of,
    route_prefixes,
)
from gateway.platform import platform
from gateway.validation import parse_execute_input, parse_revision_choice

bp = Blueprint("routes", __name__)
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
PLATFORM_QUERY = frozenset({"alias", "revision"})  # the revision choice, not the function's


@bp.route("/fn/<path:route>", methods=METHODS)
def call_route(route: str) -> Response:
    p = platform()
    prefixes = route_prefixes(route)
    authorized = auth.authorized()
    if not authorized and PLATFORM_QUERY & request.args.keys():
        # a public route serves its live revision to anyone; choosing another (an old
        # one, rolled back for a reason) takes a key
        raise auth.refuse_route()
    try:
        choice = parse_revision_choice(request.args)
    except ValidationError:  # an unknown route is 404 whatever else is asked
        with connection(p.db) as conn:
            if not functions_repo.route_exists(conn, prefixes):
                raise NotFound(f"no function answers at /fn/{route}") from None
        raise
    # With API keys on, Authorization is the platform's header: never passed on, valid or
    # not (a function that echoed a wrong one would tell a key guesser which are right,
    # and a mistyped or doubled header would hand it a real key)
    drop = frozenset({"authorization"}) if p.settings.api_keys else frozenset()
    query = [(k, v) for k, v in request.args.items(multi=True) if k not in PLATFORM_QUERY]
    event = request_input(
        request.method,
        request.path,
        query,
        request.headers.items(),
        request.get_data(cache=False),
        drop_headers=drop,
    )
    event = parse_execute_input({"input": event}, max_input_bytes=p.settings.max_input_bytes)
    try:
        record = execute_route(
            p.db, p.runners, prefixes, event, choice, authorized=authorized, keyring=p.keyring
        )
    except Unauthorized:
        raise auth.refuse_route() from None
    execution = {EXECUTION_HEADER: str(record.id)}
    if record.status != ExecutionStatus.COMPLETED:
        return _bad_gateway(f"the function failed: {record.error_message}", execution)
    try:
        answer = response_of(record.output)
    except InvalidResponse as exc:
        return _bad_gateway(f"the function's response is invalid: {exc}", execution)
    response = Response(answer.body, status=answer.status)
    response.headers.clear()
    for name, value in answer.headers:
        response.headers.add(name, value)
    response.headers.update(execution)
    return response


def _bad_gateway(message: str, headers: dict[str, str]) -> Response:
    response = error_response(502, "Bad Gateway", message)
    response.headers.update(headers)
    return response
