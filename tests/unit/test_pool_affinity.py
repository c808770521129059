from common.runners import affinity_order

ADDRESSES = [f"unix:/r/runner-{i}.sock" for i in range(4)]


def test_order_is_stable_and_complete():
    first = affinity_order("fn-1", ADDRESSES)
    assert sorted(first) == sorted(ADDRESSES)
    assert affinity_order("fn-1", list(reversed(ADDRESSES))) == first


def test_functions_spread_over_runners():
    preferred = {affinity_order(f"fn-{i}", ADDRESSES)[0] for i in range(200)}
    assert preferred == set(ADDRESSES)


def test_removing_a_runner_moves_only_its_functions():
    before = {f"fn-{i}": affinity_order(f"fn-{i}", ADDRESSES)[0] for i in range(200)}
    remaining = ADDRESSES[1:]
    for key, runner in before.items():
        if runner != ADDRESSES[0]:
            assert affinity_order(key, remaining)[0] == runner
