"""The gateway worker's pure parts (gateway/worker.py): the body budget and the statuses
of what gunicorn refuses. Its behaviour on the wire is tests/e2e/test_http_front.py."""

from __future__ import annotations

import pytest
from gunicorn.http import errors as http_errors

from gateway.worker import _PARSE_STATUSES, BodyBudget, GatewayBusy


def test_the_body_budget_refuses_what_would_exceed_it_and_takes_back_what_is_given():
    budget = BodyBudget(100)
    budget.take(60)
    with pytest.raises(GatewayBusy):
        budget.take(41)
    budget.take(40)
    budget.give(60)
    budget.take(60)
    assert budget.used == 100


@pytest.mark.parametrize(
    "error, status",
    [
        (http_errors.LimitRequestLine(5000, 4094), 414),
        (http_errors.LimitRequestHeaders("too many"), 431),
        (http_errors.UnsupportedTransferCoding("br"), 501),
        (http_errors.InvalidRequestLine("x"), 400),
        (http_errors.InvalidHeader("X"), 400),
    ],
)
def test_what_gunicorn_refuses_maps_to_its_status(error, status):
    assert next(s for kind, s, _ in _PARSE_STATUSES if isinstance(error, kind)) == status
