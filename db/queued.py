"""SQL fragments about the executions the queue runs (SPEC §10): which triggers a
gateway runs instead, the ids a queued message names, whether a message is its
execution's own, and whether a retry's backoff is over."""

from __future__ import annotations

SYNCHRONOUS_TRIGGERS = "('http', 'route')"  # run by a gateway; every other, by the queue

# The ids a message names, or NULL where one is not of their form (a bad message is
# taken and archived by the invoker, never an error that leaves it on the queue). The
# statements cast only the canonical form, so no message can fail them; the invoker's
# Python parse (invoker/worker.py, `message_ids`) is looser and sends what it accepts
# beyond that form through the locked claim, where `its_message` still decides.
_UUID_FORM = "^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$"
NAMED = {
    "execution_id": ("executionId", _UUID_FORM, "uuid"),
    "function_id": ("functionId", _UUID_FORM, "uuid"),
    "revision": ("revision", "^[0-9]{1,9}$", "integer"),
}


def named(name: str, message: str = "message") -> str:
    """SQL: the id `name` (NAMED) of the message `message`, or NULL."""
    key, form, kind = NAMED[name]
    return f"CASE WHEN {message}->>'{key}' ~ '{form}' THEN ({message}->>'{key}')::{kind} END"


def its_message(function_id: str, revision: str) -> str:
    """SQL: the execution `e` is of the function `function_id` and revision `revision`
    that its message names, and one the queue runs (not a synchronous call's, which its
    gateway runs): a message sent by hand on the queue can neither run other code for an
    execution nor take one over."""
    return (
        f"e.function_id = {function_id} AND e.revision = {revision}"
        f" AND e.trigger NOT IN {SYNCHRONOUS_TRIGGERS}"
    )


# A retry starts only after its backoff (release_attempt), whatever message names it.
RETRY_DUE = "(e.retry_at IS NULL OR e.retry_at <= clock_timestamp())"
