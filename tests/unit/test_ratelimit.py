"""Token buckets (gateway/ratelimit.py): what the per-key and failed-authentication
limits are built on."""

from __future__ import annotations

import pytest

from gateway.ratelimit import RateLimited, TokenBuckets, client_key


def test_a_bucket_allows_its_burst_then_429_with_retry_after():
    buckets = TokenBuckets(0.5, 3)
    for _ in range(3):
        buckets.take("a")
    with pytest.raises(RateLimited) as limited:
        buckets.take("a")
    assert limited.value.status == 429 and limited.value.retry_after == 2
    buckets.take("b")  # each key has its own bucket


def test_check_spends_nothing_and_refuses_only_an_empty_bucket():
    buckets = TokenBuckets(0.1, 2, what="too many failed authentications")
    buckets.check("unseen")
    buckets.check("unseen")
    buckets.take("x")
    buckets.check("x")
    buckets.take("x")
    with pytest.raises(RateLimited, match="too many failed authentications; retry after 10 s"):
        buckets.check("x")


def test_the_least_recently_used_keys_are_forgotten_first():
    buckets = TokenBuckets(0.001, 1, max_keys=2)
    buckets.take("old")
    buckets.take("hot")
    buckets.take("new")  # forgets "old", the least recently used
    buckets.take("old")  # a fresh bucket again
    with pytest.raises(RateLimited):
        buckets.take("new")


@pytest.mark.parametrize(
    "address, key",
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"),
        ("::ffff:198.51.100.1", "198.51.100.1"),
        ("", "unknown"),
        (None, "unknown"),
    ],
)
def test_client_key_groups_an_ipv6_client_by_its_64(address, key):
    assert client_key(address) == key
