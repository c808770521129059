"""No 5xx from data (issue 13, finding 5): inputs PostgreSQL or JSON cannot carry are a
400 naming the problem before anything is stored; outputs they cannot carry are a FAILED
execution with a precise message, never a 500, never a RUNNING leftover; a function
deleted while its execution runs makes that execution a 404 or its result."""

from __future__ import annotations

import threading
import time

import pytest

from common.jsonvalues import MAX_DEPTH, NON_FINITE, OUT_OF_RANGE, TOO_DEEP
from tests.e2e.test_seed_flow import ready_function
from tests.integration.helpers import source
from tests.runner.wat import INFINITE_LOOP, returns_bytes


@pytest.fixture(scope="module")
def echo(api) -> str:
    return ready_function(api, "bad-data-echo", "wat", source("echo.wat"))


def post_raw(api, fid: str, body: bytes):
    return api.post(
        f"/functions/{fid}/execute", data=body, headers={"Content-Type": "application/json"}
    )


@pytest.mark.parametrize(
    "body, message",
    [
        (b'{"input": {"a": NaN}}', f"input {NON_FINITE}"),
        (b'{"input": {"a": [Infinity]}}', f"input {NON_FINITE}"),
        (b'{"input": {"a": -Infinity}}', f"input {NON_FINITE}"),
        (b'{"input": {"a": 1e400}}', f"input {NON_FINITE}"),
        (b'{"input": {"a": -0e-99999}}', f"input {OUT_OF_RANGE}"),
        (b'{"input": {"a": ' + b"[" * 200 + b"]" * 200 + b"}}", f"input {TOO_DEEP}"),
        (b'{"input": {"a": ' + b"[" * 5000 + b"]" * 5000 + b"}}", f"request body {TOO_DEEP}"),
        (
            b'{"input": {"a": ' + b'{"b":' * 3000 + b"1" + b"}" * 3000 + b"}}",
            f"request body {TOO_DEEP}",
        ),
    ],
    ids=[
        "nan",
        "infinity",
        "-infinity",
        "1e400",
        "-0e-99999",
        "deep-200",
        "deep-5000",
        "deep-objects",
    ],
)
def test_input_json_cannot_carry_is_400_and_nothing_is_stored(api, echo, body, message):
    response = post_raw(api, echo, body)
    assert response.status_code == 400, response.text
    assert response.json()["message"] == message
    assert api.get(f"/functions/{echo}/executions").json() == []


def test_input_at_the_depth_limit_runs(api, echo):
    value = 1
    for _ in range(MAX_DEPTH - 1):  # the input object itself is the first level
        value = [value]
    response = api.post(f"/functions/{echo}/execute", json={"input": {"a": value}})
    assert response.status_code == 200 and response.json()["status"] == "COMPLETED"


@pytest.mark.parametrize(
    "output, message",
    [
        (b'{"a":NaN}', f"invalid output: the JSON {NON_FINITE}"),
        (b'{"a":Infinity}', f"invalid output: the JSON {NON_FINITE}"),
        (b'{"a":1e400}', f"invalid output: the JSON {NON_FINITE}"),
        (b'{"a":-0e-99999}', f"invalid output: the JSON {OUT_OF_RANGE}"),
        (b"[" * 5000 + b"]" * 5000, f"invalid output: the JSON {TOO_DEEP}"),
        (b"[" * 200 + b"]" * 200, f"invalid output: the JSON {TOO_DEEP}"),
    ],
    ids=["nan", "infinity", "1e400", "-0e-99999", "deep-5000", "deep-200"],
)
def test_output_json_cannot_carry_is_a_failed_execution(api, output, message):
    fid = ready_function(api, "bad-output", "wat", returns_bytes(output))
    response = api.post(f"/functions/{fid}/execute", json={})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["status"], body["errorMessage"], body["output"]) == ("FAILED", message, None)
    stored = api.get(f"/executions/{body['id']}").json()
    assert (stored["status"], stored["errorMessage"]) == ("FAILED", message)


def test_deleting_a_function_while_it_runs_answers_404_or_the_result(api):
    fid = ready_function(
        api, "deleted-while-running", "wat", INFINITE_LOOP, limits={"timeoutMs": 1500}
    )
    answers = []
    caller = threading.Thread(
        target=lambda: answers.append(api.post(f"/functions/{fid}/execute", json={}))
    )
    caller.start()
    deadline = time.monotonic() + 10
    while not api.get(f"/functions/{fid}/executions").json():
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert api.delete(f"/functions/{fid}").status_code == 204
    caller.join(timeout=30)
    response = answers[0]
    assert response.status_code in (200, 404), response.text
    if response.status_code == 404:
        assert "deleted" in response.json()["message"]
