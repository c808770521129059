"""The gateway worker's pure parts (gateway/worker.py): the body and response budgets,
the write deadline on a socket pair, and the statuses of what gunicorn refuses. Its
behaviour on the wire is tests/e2e/test_http_front.py."""

from __future__ import annotations

import socket
import threading
import time

import pytest
from gunicorn.http import errors as http_errors

from gateway.worker import (
    _PARSE_STATUSES,
    BodyBudget,
    DeadlineWriter,
    GatewayBusy,
    ResponseBudget,
    SlowReader,
)


def test_the_body_budget_refuses_what_would_exceed_it_and_takes_back_what_is_given():
    budget = BodyBudget(100)
    budget.take(60)
    with pytest.raises(GatewayBusy):
        budget.take(41)
    budget.take(40)
    budget.give(60)
    budget.take(60)
    assert budget.used == 100


def test_a_reader_that_takes_nothing_is_a_slow_reader_at_the_deadline_and_counted_till_then():
    budget = ResponseBudget(10 << 20)
    server, client = socket.socketpair()
    with server, client:
        writer = DeadlineWriter(server, 0.3, budget)
        writer.hold(4 << 20)
        started = time.monotonic()
        with pytest.raises(SlowReader, match=r"no byte of its response for 0\.3 s"):
            writer.sendall(b"x" * (4 << 20))
        assert 0.25 < time.monotonic() - started < 3.0
        assert budget.used == 4 << 20  # counted since the client made it wait
        writer.release()
        assert budget.used == 0


def test_a_reader_that_keeps_taking_bytes_gets_everything_and_a_full_budget_refuses_the_next():
    budget = ResponseBudget(6 << 20)
    budget.take(5 << 20)  # other slow readers
    server, client = socket.socketpair()
    with server, client:
        received = []
        reader = threading.Thread(target=lambda: received.append(_read_all(client, 3 << 20)))
        reader.start()
        writer = DeadlineWriter(server, 2.0, budget)
        writer.hold(512 << 10)  # fits: 5.5 MiB of 6
        writer.sendall(b"y" * (3 << 20))
        reader.join()
        assert received == [3 << 20]
        writer.release()
        assert budget.used == 5 << 20
        writer.hold(2 << 20)  # does not fit: reset at once, not at the deadline
        started = time.monotonic()
        with pytest.raises(SlowReader, match="already holds"):
            writer.sendall(b"z" * (8 << 20))
        assert time.monotonic() - started < 1.0


def _read_all(sock: socket.socket, size: int) -> int:
    got = 0
    while got < size:
        got += len(sock.recv(65536))
        time.sleep(0.001)
    return got


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
