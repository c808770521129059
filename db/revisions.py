"""Every statement on revisions and artifacts (SPEC §4, §9): the builder's and the
consumer's steps of a revision's build, reading revisions, and pruning artifacts.

A compilation result applies to *its* revision, whatever newer revisions exist: a
superseded revision that finishes building is READY and can be targeted by an alias.
Making a revision READY stores its artifact once per sha256 and moves an unpinned
`live` forward in the same transaction (never backwards: see db/aliases.py).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID

import psycopg
from psycopg.rows import dict_row

from common.contracts import CompilationResult, FunctionStatus
from db import aliases
from db.functions import lock_function, touch_function
from db.records import RevisionRecord, RevisionSummary

KEEP_NEWER_READY = 10  # an unaliased revision keeps its artifact until 10 newer are READY


class ApplyOutcome(StrEnum):
    APPLIED = "applied"
    STALE = "stale"  # the revision already has its result (a redelivery or a duplicate)
    MISSING = "missing"  # the function was deleted


@dataclass(frozen=True)
class TargetState:
    """Whether a revision can be an alias's target: READY, and its artifact kept."""

    status: FunctionStatus
    pruned: bool

    @property
    def targetable(self) -> bool:
        return self.status == FunctionStatus.READY and not self.pruned


def mark_compiling(conn: psycopg.Connection, function_id: UUID, revision: int) -> bool:
    """PENDING → COMPILING for this revision; False when it was deleted or has its result."""
    cur = conn.execute(
        "UPDATE revisions SET status = 'COMPILING'"
        " WHERE function_id = %s AND revision = %s AND status IN ('PENDING', 'COMPILING')",
        (function_id, revision),
    )
    return cur.rowcount == 1


def awaits_result(conn: psycopg.Connection, function_id: UUID, revision: int) -> bool:
    """True while this revision still waits for a compilation result."""
    row = conn.execute(
        "SELECT 1 FROM revisions WHERE function_id = %s AND revision = %s"
        " AND status IN ('PENDING', 'COMPILING')",
        (function_id, revision),
    ).fetchone()
    return row is not None


def apply_result(conn: psycopg.Connection, result: CompilationResult) -> ApplyOutcome:
    """Apply a compilation result to its revision, once; a repeat changes nothing."""
    function_id = UUID(result.function_id)
    if not lock_function(conn, function_id):
        return ApplyOutcome.MISSING
    if result.success:
        assert result.wasm_binary is not None
        sha256 = store_artifact(conn, result.wasm_binary)
        cur = conn.execute(
            "UPDATE revisions SET status = 'READY', compile_error = NULL, artifact_sha256 = %s,"
            " wasm_sha256 = %s, wasm_size = %s, built_at = now()"
            " WHERE function_id = %s AND revision = %s AND status IN ('PENDING', 'COMPILING')",
            (sha256, sha256, len(result.wasm_binary), function_id, result.revision),
        )
    else:
        cur = conn.execute(
            "UPDATE revisions SET status = 'FAILED', compile_error = %s, built_at = now()"
            " WHERE function_id = %s AND revision = %s AND status IN ('PENDING', 'COMPILING')",
            (result.error, function_id, result.revision),
        )
    if cur.rowcount != 1:
        return ApplyOutcome.STALE
    if result.success:
        aliases.follow_ready(conn, function_id, result.revision)
    touch_function(conn, function_id)
    return ApplyOutcome.APPLIED


def store_artifact(conn: psycopg.Connection, wasm: bytes) -> str:
    """Store an artifact once per sha256. The no-op update of an existing row locks it,
    so the pruner cannot delete it before this transaction's revision points at it."""
    sha256 = hashlib.sha256(wasm).hexdigest()
    conn.execute(
        "INSERT INTO artifacts (sha256, wasm, size) VALUES (%s, %s, %s)"
        " ON CONFLICT (sha256) DO UPDATE SET size = EXCLUDED.size",
        (sha256, wasm, len(wasm)),
    )
    return sha256


def get_artifact(conn: psycopg.Connection, sha256: str) -> bytes | None:
    row = conn.execute("SELECT wasm FROM artifacts WHERE sha256 = %s", (sha256,)).fetchone()
    return bytes(row[0]) if row else None


def get_revision(
    conn: psycopg.Connection, function_id: UUID, revision: int
) -> RevisionRecord | None:
    row = (
        conn.cursor(row_factory=dict_row)
        .execute(
            f"SELECT {RevisionRecord.COLUMNS} FROM revisions"
            " WHERE function_id = %s AND revision = %s",
            (function_id, revision),
        )
        .fetchone()
    )
    return RevisionRecord.from_row(row) if row else None


def list_revisions(
    conn: psycopg.Connection, function_id: UUID, *, limit: int, before: int | None
) -> list[RevisionSummary]:
    """Newest first, from the primary key; `before`: revisions older than that number."""
    rows = (
        conn.cursor(row_factory=dict_row)
        .execute(
            f"SELECT {RevisionSummary.COLUMNS} FROM revisions WHERE function_id = %s"
            " AND revision < %s ORDER BY revision DESC LIMIT %s",
            (function_id, before if before is not None else 2**31 - 1, limit),
        )
        .fetchall()
    )
    return [RevisionSummary.from_row(r) for r in rows]


def target_states(
    conn: psycopg.Connection, function_id: UUID, revisions: list[int]
) -> dict[int, TargetState]:
    """The state of each of `revisions` that exists (for checking alias targets)."""
    rows = conn.execute(
        "SELECT revision, status, pruned_at IS NOT NULL FROM revisions"
        " WHERE function_id = %s AND revision = ANY(%s)",
        (function_id, revisions),
    ).fetchall()
    return {r: TargetState(FunctionStatus(s), pruned) for r, s, pruned in rows}


def ready_before(conn: psycopg.Connection, function_id: UUID, revision: int) -> int | None:
    """The newest READY revision older than `revision` whose artifact is kept."""
    row = conn.execute(
        "SELECT revision FROM revisions WHERE function_id = %s AND status = 'READY'"
        " AND revision < %s AND artifact_sha256 IS NOT NULL ORDER BY revision DESC LIMIT 1",
        (function_id, revision),
    ).fetchone()
    return row[0] if row else None


def functions_to_prune(conn: psycopg.Connection, keep: int = KEEP_NEWER_READY) -> list[UUID]:
    """Functions with more than `keep` READY revisions still holding artifacts."""
    rows = conn.execute(
        "SELECT function_id FROM revisions WHERE status = 'READY' AND artifact_sha256 IS NOT NULL"
        " GROUP BY function_id HAVING count(*) > %s",
        (keep,),
    ).fetchall()
    return [r[0] for r in rows]


def prune_revisions(
    conn: psycopg.Connection, function_id: UUID, keep: int = KEEP_NEWER_READY
) -> list[int]:
    """Drop the artifact reference of each revision of the function that no alias
    points at and that has at least `keep` newer READY revisions. The caller holds the
    function's lock, so no alias can start pointing at one meanwhile. Returns them."""
    rows = conn.execute(
        "WITH ranked AS ("
        "  SELECT revision, count(*) OVER (ORDER BY revision DESC"
        "    ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS newer_ready"
        "  FROM revisions WHERE function_id = %(fid)s AND status = 'READY'"
        ") UPDATE revisions r SET artifact_sha256 = NULL, pruned_at = now() FROM ranked"
        " WHERE r.function_id = %(fid)s AND r.revision = ranked.revision"
        " AND ranked.newer_ready >= %(keep)s AND r.artifact_sha256 IS NOT NULL"
        " AND NOT EXISTS (SELECT 1 FROM aliases a WHERE a.function_id = %(fid)s"
        "   AND (a.revision = r.revision OR a.routes ? r.revision::text))"
        " RETURNING r.revision",
        {"fid": function_id, "keep": keep},
    ).fetchall()
    return sorted(r[0] for r in rows)


def delete_unreferenced_artifacts(conn: psycopg.Connection) -> int:
    """Delete artifacts no revision points at (pruned, or their function deleted)."""
    cur = conn.execute(
        "DELETE FROM artifacts a WHERE NOT EXISTS"
        " (SELECT 1 FROM revisions r WHERE r.artifact_sha256 = a.sha256)"
    )
    return cur.rowcount


def prune_function(
    conn: psycopg.Connection, function_id: UUID, keep: int = KEEP_NEWER_READY
) -> list[int]:
    """Lock the function and prune its revisions (see prune_revisions)."""
    if not lock_function(conn, function_id):
        return []
    return prune_revisions(conn, function_id, keep)
