"""Schemathesis against the served /openapi.json: every operation, generated inputs,
no 5xx, every response conforming to the document.

Driven through schemathesis' Python API and hypothesis directly (its pytest plugin
does not support the pytest release used here)."""

from __future__ import annotations

import time

import requests
import schemathesis
from hypothesis import HealthCheck, given, settings

EXAMPLES_PER_OPERATION = 50


def test_every_operation_conforms_to_the_openapi_document(platform):
    schema = schemathesis.openapi.from_url(f"http://127.0.0.1:{platform.port}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 11  # every method of every path in the document
    cases = 0
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def fuzz(case) -> None:
            nonlocal cases
            cases += 1
            case.call_and_validate()

        fuzz()
    print(f"\n{cases} generated requests over {len(operations)} operations")
    assert cases >= len(operations) * 5
    wait_until_compiled(platform)


def wait_until_compiled(platform, timeout: float = 300.0) -> None:
    """Let the builder finish the functions the fuzzer registered, so later tests
    measure only their own work."""
    url = f"http://127.0.0.1:{platform.port}/metrics"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = requests.get(url, timeout=10).text
        depths = [
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("nil_queue_messages{")
        ]
        if depths and not any(depths):
            return
        time.sleep(0.5)
    raise TimeoutError("the compile queues did not drain")
