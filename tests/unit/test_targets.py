"""The revision choice and the bucket that decides a weighted alias (db/targets.py)."""

import uuid
from collections import Counter

import pytest

from db.targets import ROUTE_BUCKETS, RevisionChoice, route_bucket


def test_the_bucket_is_deterministic_and_uniform():
    ids = [uuid.uuid4() for _ in range(20_000)]
    assert [route_bucket(i) for i in ids[:100]] == [route_bucket(i) for i in ids[:100]]
    counts = Counter(route_bucket(i) for i in ids)
    assert set(counts) == set(range(ROUTE_BUCKETS))
    assert max(counts.values()) < 2 * min(counts.values())  # ~200 each


def test_time_ordered_ids_spread_too():
    """Ids that share their leading bits (UUIDv7-like) still spread over the buckets."""
    base = uuid.uuid4().int & ~((1 << 64) - 1)
    counts = Counter(route_bucket(uuid.UUID(int=base + n)) for n in range(10_000))
    assert len(counts) == ROUTE_BUCKETS


def test_a_choice_round_trips_as_json():
    for choice in (RevisionChoice(), RevisionChoice(alias="canary"), RevisionChoice(revision=3)):
        assert RevisionChoice.from_json(choice.to_json()) == choice
    assert RevisionChoice().alias_name == "live"
    assert RevisionChoice(revision=3).alias_name is None
    with pytest.raises(ValueError):
        RevisionChoice(alias="live", revision=1)
