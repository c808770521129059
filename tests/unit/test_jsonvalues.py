"""The one check of JSON values the platform carries (common/jsonvalues.py), used by the
gateway on inputs and by the runner on outputs."""

from __future__ import annotations

import pytest

from common.jsonvalues import (
    MAX_DEPTH,
    NON_FINITE,
    NOT_JSON,
    OUT_OF_RANGE,
    TOO_DEEP,
    InvalidJson,
    check_text,
    parse,
    unstorable_reason,
)


def nested(depth: int, leaf=1):
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    "value, reason",
    [
        ({"a": [1, 2.5, "x", None, True, {"b": {}}]}, None),
        (nested(MAX_DEPTH), None),
        (nested(MAX_DEPTH + 1), TOO_DEEP),
        ({"k": nested(MAX_DEPTH - 1, {})}, TOO_DEEP),  # the empty object is level 101
        ({"a": float("nan")}, NON_FINITE),
        ({"a": [float("inf")]}, NON_FINITE),
        ({"a": -float("inf")}, NON_FINITE),
        ({"a": 10**400}, None),  # an integer: jsonb's numeric holds it exactly
        ({"a": "x\x00"}, "contains NUL characters"),
        ({"\x00": 1}, "contains NUL characters"),
        ({"a": "\udc00"}, "contains lone UTF-16 surrogates"),
    ],
)
def test_unstorable_reason(value, reason):
    assert unstorable_reason(value) == reason


@pytest.mark.parametrize(
    "text, problem",
    [
        ('{"a": [1, {"b": null}]}', None),
        ("{oops", NOT_JSON),
        (b"\xff\xfe{", NOT_JSON),
        ('{"a": NaN}', NON_FINITE),
        ('{"a": Infinity}', NON_FINITE),
        ('{"a": -Infinity}', NON_FINITE),
        ('{"a": 1e400}', NON_FINITE),
        ('{"a": -1e400}', NON_FINITE),
        # finite doubles (-0.0, 0.0, 1e-16383) that PostgreSQL's numeric cannot hold
        ('{"a":-0e-99999}', OUT_OF_RANGE),
        ('{"a": 1e-16384}', OUT_OF_RANGE),
        ('{"a": 1.5e-16383}', OUT_OF_RANGE),
        ('{"a": 0e-0000000000016384}', OUT_OF_RANGE),
        ('{"a": 0e1073741824}', OUT_OF_RANGE),
        ('{"a": 0.' + "0" * 16384 + "}", OUT_OF_RANGE),
        # ... and their neighbours inside the range, which it stores
        ('{"a": 1e-16383}', None),
        ('{"a": 0e-16383}', None),
        ('{"a": 0e1073741823}', None),
        ('{"a": 0.' + "0" * 16383 + "}", None),
        ('{"a": 1.5E+300}', None),
        ("[" * 200 + "]" * 200, TOO_DEEP),
        ("[" * 100_000 + "]" * 100_000, TOO_DEEP),  # past the parser's own recursion limit
        ('{"a":' * 5000 + "1" + "}" * 5000, TOO_DEEP),
        ('"\\u0000"', "contains NUL characters"),
    ],
)
def test_check_text(text, problem):
    assert check_text(text) == problem


def test_parse_names_what_it_cannot_read():
    assert parse(b'{"a": 1}') == {"a": 1}
    with pytest.raises(InvalidJson, match=TOO_DEEP):
        parse("[" * 100_000)
    with pytest.raises(InvalidJson, match=NOT_JSON):
        parse("")
