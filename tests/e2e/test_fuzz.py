"""Schemathesis against the served /openapi.json: every operation, generated inputs,
no 5xx, every response conforming to the document.

Driven through schemathesis' Python API and hypothesis directly (its pytest plugin
does not support the pytest release used here)."""

from __future__ import annotations

import time

import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.config import SchemathesisConfig

from tests.e2e.conftest import every_item

EXAMPLES_PER_OPERATION = 50
ACCEPTED = ["2xx", "3xx", "401", "403", "404", "409", "415", "429"]
CONFIG = SchemathesisConfig.from_dict(
    {
        # No NUL in generated strings: PostgreSQL cannot store them (400), and the
        # document says so for every string but those inside JSON arrays, whose items
        # it leaves open (generated clients cannot handle an array of itself).
        "generation": {"allow-x00": False},
        # `language` is open (a client may name a language added after it was
        # generated): a name this gateway does not compile is a documented 415.
        "checks": {"positive_data_acceptance": {"expected-statuses": ACCEPTED}},
        # A generated /fn/{route} path can hit a route the fuzzer registered: its live
        # revision may not be READY, and `?alias=` with `?revision=` is a documented 400
        # OpenAPI cannot express as a schema (both parameters are valid alone).
        "operations": [
            {
                "include-path": "/fn/{route}",
                "checks": {"positive_data_acceptance": {"expected-statuses": [*ACCEPTED, "400"]}},
            }
        ],
    }
)


def documented_status(ctx, response, case) -> None:
    """Every status is listed by the operation itself, not only covered by its `default`
    (with a `default`, schemathesis' own status check accepts any status)."""
    listed = set(case.operation.responses.status_codes) - {"default"}
    assert str(response.status_code) in listed, (
        f"{case.operation.label} answered {response.status_code}, documented: {sorted(listed)}"
    )


def test_every_operation_conforms_to_the_openapi_document(platform):
    schema = schemathesis.openapi.from_url(
        f"http://127.0.0.1:{platform.port}/openapi.json", config=CONFIG
    )
    operations = [result.ok() for result in schema.get_all_operations()]
    earlier = function_ids(platform)
    assert len(operations) == 27  # every method of every path in the document
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
            case.call_and_validate(additional_checks=[documented_status])

        fuzz()
    print(f"\n{cases} generated requests over {len(operations)} operations")
    assert cases >= len(operations) * 5
    wait_until_compiled(platform)
    delete_functions(platform, function_ids(platform) - earlier)


def function_ids(platform) -> set[str]:
    base = f"http://127.0.0.1:{platform.port}"
    return {item["id"] for item in every_item(base, "/functions?limit=1000")}


def delete_functions(platform, ids: set[str]) -> None:
    """Delete what the fuzzer registered: its schedules fire every minute and its
    invocations retry, work that would land in the middle of later tests' figures
    (a runner started since would count module cache misses for it)."""
    for fid in ids:
        response = requests.delete(f"http://127.0.0.1:{platform.port}/functions/{fid}", timeout=30)
        assert response.status_code in (204, 404), response.text


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
