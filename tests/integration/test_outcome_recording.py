"""Recording an outcome never leaves a row RUNNING (issue 13, finding 5): what the
database refuses is recorded as a platform FAILED, and a function deleted meanwhile
makes the execution a NotFound — on a real database, through the execution path's
finish step."""

from __future__ import annotations

from uuid import UUID, uuid4

import pytest

from common import execution
from common.contracts import ExecuteReply, Outcome
from common.db import connection
from common.errors import NotFound
from db import executions as repo
from db.targets import RevisionChoice
from tests.integration.helpers import function_body


@pytest.fixture
def running(client, compile_all, db):
    """A READY function's execution, started (RUNNING) but not finished."""
    fid = client.post("/functions", json=function_body()).json["id"]
    compile_all()
    with connection(db) as conn:
        record = repo.start_execution(
            conn, UUID(fid), RevisionChoice(), execution_id=uuid4(), input_value={}, input_json="{}"
        )
    assert record is not None and record.running is not None
    return record.running


def _ids(record) -> dict[str, str]:
    return {"executionId": str(record.id), "functionId": str(record.function_id)}


@pytest.mark.parametrize(
    "output", ['{"a": NaN}', '{"a": Infinity}', '{"a": "\\u0000"}'], ids=["nan", "inf", "nul"]
)
def test_an_output_the_database_refuses_is_recorded_as_a_platform_failure(db, running, output):
    reply = ExecuteReply(Outcome.OK, output=output, duration_ms=1.5, fuel_used=7, logs="hi")
    record = execution._finish(db, running, output, None, reply, _ids(running))
    assert record.status.value == "FAILED" and record.output is None
    assert record.error_message.startswith("platform error: the database refused the result (")
    with connection(db) as conn:
        stored = repo.get_execution(conn, running.id)
    assert (stored.status.value, stored.error_message) == ("FAILED", record.error_message)
    assert (stored.duration_ms, stored.fuel_used) == (1.5, 7)


def test_an_error_message_holding_nul_is_stored_with_a_replacement_character(db, running):
    reply = ExecuteReply(Outcome.TRAP, error="trap: \x00", duration_ms=1.0, fuel_used=1)
    record = execution._finish(db, running, None, reply.error, reply, _ids(running))
    assert (record.status.value, record.error_message) == ("FAILED", "trap: \ufffd")


def test_a_function_deleted_while_its_execution_ran_is_not_found(client, db, running):
    assert client.delete(f"/functions/{running.function_id}").status_code == 204
    reply = ExecuteReply(Outcome.OK, output="{}", duration_ms=1.0, fuel_used=1)
    with pytest.raises(NotFound, match="was deleted while execution"):
        execution._finish(db, running, "{}", None, reply, _ids(running))
