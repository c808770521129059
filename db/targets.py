"""What an execution runs: the one resolution of a revision choice (SPEC §9).

Every way to start an execution names what to run the same way: an alias
(`?alias=name`), a revision (`?revision=n`), or nothing — the alias `live`. This module
resolves that choice for all of them, as SQL that the statement starting an execution
includes (`resolve(choice)`, the CTE `target`), so choosing costs no round trip of its
own and sees the aliases and revisions of one snapshot: an execution started during an
alias flip runs the old or the new revision, never a mix. A weighted alias is decided by
the execution's own id (`route_bucket`), so the decision is deterministic: the same
execution resolves to the same revision however often it is resolved.

The interface: `RevisionChoice` (what was asked for; JSON for stored retries),
`route_bucket(execution_id)`, `resolve(choice)` + `resolve_params(...)` to include in
a statement, `Target.from_row` for its `TARGET_COLUMNS`, and `resolve_target(...)` to
resolve without starting anything.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import psycopg

from common.contracts import FunctionStatus, Limits
from common.secrets import Sealed
from db.secrets import SEALED_SECRETS_SQL, sealed_from_json

LIVE = "live"
LATEST = "latest"
ROUTE_BUCKETS = 100  # weights are whole percentages


@dataclass(frozen=True)
class RevisionChoice:
    """An alias name or a revision number; neither means the alias `live`."""

    alias: str | None = None
    revision: int | None = None

    def __post_init__(self) -> None:
        if self.alias is not None and self.revision is not None:
            raise ValueError("choose an alias or a revision, not both")

    @property
    def alias_name(self) -> str | None:
        """The alias to resolve (`live` when nothing was named); None for a revision."""
        return None if self.revision is not None else (self.alias or LIVE)

    def to_json(self) -> dict[str, Any]:
        if self.revision is not None:
            return {"revision": self.revision}
        return {"alias": self.alias} if self.alias is not None else {}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RevisionChoice:
        revision = data.get("revision")
        return cls(data.get("alias"), int(revision) if revision is not None else None)


def route_bucket(execution_id: UUID) -> int:
    """0..99 from the execution's id: which route of a weighted alias it takes."""
    digest = hashlib.blake2b(execution_id.bytes, digest_size=8).digest()
    return int.from_bytes(digest, "big") % ROUTE_BUCKETS


# The revision of a weighted alias `a` for this execution's bucket: routes
# {"3": 90, "4": 10} are taken in revision order, bucket 0-89 runs 3, 90-99 runs 4.
_ROUTE = """(
        SELECT w.revision FROM (
            SELECT key::integer AS revision,
                   sum(value::integer) OVER (ORDER BY key::integer) AS upto
            FROM jsonb_each_text(a.routes)) w
        WHERE w.upto > %(bucket)s ORDER BY w.revision LIMIT 1)"""

# Per kind of choice: (the join naming the alias row `a`, whether the alias exists, the
# revision number). Each kind is its own statement text, prepared once per connection.
_KINDS = {
    "alias": (
        "LEFT JOIN aliases a ON a.function_id = f.id AND a.name = %(alias)s::text",
        "a.name IS NOT NULL",
        f"COALESCE(a.revision, {_ROUTE})",
    ),
    "latest": (
        "",
        "true",
        "(SELECT max(revision) FROM revisions WHERE function_id = f.id AND status = 'READY')",
    ),
    "revision": ("", "NULL::boolean", "%(revision)s::integer"),
}


# How the function is found: by its id, or (a request to /fn/...) by the longest of the
# request path's prefixes that is a function's route — one probe of the unique route
# index per prefix, in the statement that starts the execution.
_BY = {
    "id": "%(function_id)s",
    "route": """(
        SELECT id FROM functions WHERE route = ANY(%(routes)s::text[])
        ORDER BY length(route) DESC LIMIT 1)""",
}


def function_lookup(by: str) -> str:
    """SQL for the id of the function a statement is about: `id` or `route` (_BY)."""
    return _BY[by]


def _target_cte(kind: str, by: str = "id") -> str:
    alias_join, alias_exists, revision = _KINDS[kind]
    return _target_sql(alias_join, alias_exists, revision, _BY[by])


def named_target_cte(source: str) -> str:
    """The CTE `target` for the function and revision the CTE `source` names (its
    columns function_id and revision, one row): the invoker's read of a message."""
    revision = f"(SELECT revision FROM {source})"
    return _target_sql("", "NULL::boolean", revision, f"(SELECT function_id FROM {source})")


def _target_sql(alias_join: str, alias_exists: str, revision: str, function_id: str) -> str:
    return f"""target AS (
    SELECT f.id AS function_id, f.isolation, {alias_exists} AS alias_exists, c.revision,
           r.status, r.language, r.timeout_ms, r.memory_mb, r.fuel, r.artifact_sha256,
           r.pruned_at IS NOT NULL AS pruned, r.env, {SEALED_SECRETS_SQL} AS secrets,
           f.public, f.route
    FROM functions f {alias_join}
    CROSS JOIN LATERAL (SELECT {revision} AS revision) c
    LEFT JOIN LATERAL (
        SELECT * FROM revisions
        WHERE function_id = f.id AND revision = c.revision
        LIMIT 1  -- one primary-key lookup, never a join over the function's revisions
    ) r ON true
    WHERE f.id = {function_id}
)"""


TARGET_CTES = {kind: _target_cte(kind) for kind in _KINDS}
ROUTE_TARGET_CTES = {kind: _target_cte(kind, "route") for kind in _KINDS}


def choice_kind(choice: RevisionChoice) -> str:
    if choice.revision is not None:
        return "revision"
    return "latest" if choice.alias_name == LATEST else "alias"


def resolve(choice: RevisionChoice) -> str:
    """The CTE `target` that resolves `choice`: one row when the function exists."""
    return TARGET_CTES[choice_kind(choice)]


TARGET_COLUMNS = (
    "target.function_id, target.isolation, target.alias_exists, target.revision,"
    " target.status, target.language, target.timeout_ms, target.memory_mb, target.fuel,"
    " target.artifact_sha256, target.pruned, target.env, target.secrets"
)
TARGET_WIDTH = 13  # how many values of a row TARGET_COLUMNS selects


def resolve_params(
    function_id: UUID | None, choice: RevisionChoice, bucket: int, routes: list[str] | None = None
) -> dict[str, Any]:
    return {
        "function_id": function_id,
        "routes": routes,
        "alias": choice.alias_name,
        "revision": choice.revision,
        "bucket": bucket,
    }


@dataclass(frozen=True)
class Target:
    """The revision a choice resolved to, with what running it needs."""

    function_id: UUID
    isolation: str
    alias_exists: bool | None  # for an alias choice: the alias exists (live, latest do)
    revision: int | None  # None: the alias points at no revision yet (none READY)
    status: FunctionStatus | None  # None: no such revision
    language: str | None
    limits: Limits | None
    wasm_sha256: str | None  # None: not built, or pruned
    pruned: bool = False
    env: dict[str, str] = field(default_factory=dict)  # the revision's (SPEC §12)
    sealed: list[Sealed] = field(default_factory=list)  # the function's secrets, sealed

    @property
    def runnable(self) -> bool:
        return self.status == FunctionStatus.READY and self.wasm_sha256 is not None

    @classmethod
    def from_row(cls, row: tuple) -> Target:
        """From the first TARGET_WIDTH values of a row selecting `TARGET_COLUMNS`."""
        fid, isolation, alias_exists, revision, status, language, t, m, fuel, sha, pruned = row[:11]
        env, sealed = row[11:TARGET_WIDTH]
        return cls(
            function_id=fid,
            isolation=isolation,
            alias_exists=alias_exists,
            revision=revision,
            status=FunctionStatus(status) if status is not None else None,
            language=language,
            limits=Limits(t, m, fuel) if t is not None else None,
            wasm_sha256=sha,
            pruned=bool(pruned),
            env=env or {},
            sealed=sealed_from_json(sealed),
        )


def resolve_target(
    conn: psycopg.Connection, function_id: UUID, choice: RevisionChoice, *, bucket: int = 0
) -> Target | None:
    """Resolve without starting an execution; None when the function does not exist."""
    row = conn.execute(
        f"WITH {resolve(choice)} SELECT {TARGET_COLUMNS} FROM target",
        resolve_params(function_id, choice, bucket),
    ).fetchone()
    return Target.from_row(row) if row else None
