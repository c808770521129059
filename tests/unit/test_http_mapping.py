import base64

import pytest

from gateway.http_mapping import InvalidResponse, request_input, response_of, route_prefixes


def test_route_prefixes_longest_first():
    assert route_prefixes("api/users/7/") == ["api/users/7", "api/users", "api"]


def test_request_input_is_the_lambda_shape():
    event = request_input(
        "GET",
        "/fn/a",
        [("x", "1"), ("x", "2")],
        [("Accept", "a"), ("Accept", "b"), ("Connection", "close"), ("TE", "x")],
        b"",
    )
    assert event == {
        "method": "GET",
        "path": "/fn/a",
        "query": {"x": "1,2"},
        "headers": {"accept": "a, b"},
        "body": "",
        "isBase64Encoded": False,
    }


@pytest.mark.parametrize("raw", [b"\xff\xfe", b"nul\x00byte"])
def test_bodies_that_are_not_storable_text_are_base64(raw):
    event = request_input("PUT", "/fn/a", [], [], raw)
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == raw


def test_responses():
    plain = response_of([1, 2])
    assert (plain.status, plain.body) == (200, b"[1,2]")
    shaped = response_of(
        {
            "statusCode": 418,
            "headers": {"Content-Length": "3", "Transfer-Encoding": "chunked", "X-A": "b"},
            "body": base64.b64encode(b"\x00\x01").decode(),
            "isBase64Encoded": True,
            "cookies": ["a=1"],
        }
    )
    assert shaped.status == 418 and shaped.body == b"\x00\x01"
    assert shaped.headers == [
        ("X-A", "b"),
        ("Set-Cookie", "a=1"),
        ("Content-Type", "application/json"),
    ]


@pytest.mark.parametrize(
    "output",
    [
        {"statusCode": 99},
        {"statusCode": 100},  # an interim answer would desynchronise the connection
        {"statusCode": 101},
        {"statusCode": "200"},
        {"statusCode": 200, "headers": []},
        {"statusCode": 200, "headers": {"Bad Name": "x"}},
        {"statusCode": 200, "headers": {"X": "a\r\nInjected: 1"}},
        {"statusCode": 200, "headers": {"X": "日本"}},
        {"statusCode": 200, "headers": {"X": "a\x7fb"}},
        {"statusCode": 200, "headers": {"X": "a\x0bb"}},
        {"statusCode": 200, "headers": {f"X-{n}": "v" for n in range(101)}},
        {"statusCode": 200, "headers": {"X": "v" * 70_000}},
        {"statusCode": 200, "cookies": ["a=\u2028b"]},
        {"statusCode": 200, "body": "!!", "isBase64Encoded": True},
    ],
)
def test_invalid_responses_are_refused(output):
    with pytest.raises(InvalidResponse):
        response_of(output)
