from datetime import UTC, datetime
from uuid import UUID

import pytest

from common.contracts import Limits
from db.records import FunctionSpec
from db.targets import RevisionChoice
from gateway.errors import PayloadTooLarge, UnsupportedLanguage, ValidationError
from gateway.validation import (
    AliasRequest,
    LimitPolicy,
    Page,
    parse_alias_name,
    parse_alias_request,
    parse_execute_input,
    parse_function_spec,
    parse_page,
    parse_revision_choice,
    parse_rollback_request,
    parse_uuid,
)

POLICY = LimitPolicy(defaults=Limits(10_000, 64, 1_000), maxima=Limits(60_000, 512, 10_000))


def spec(**body):
    base = {"name": "echo", "language": "wat", "source": "(module)"}
    return parse_function_spec({**base, **body}, policy=POLICY, max_source_bytes=100)


def test_valid_body_gets_default_limits():
    assert spec(description="d") == FunctionSpec(
        "echo", "d", "wat", "(module)", POLICY.defaults, "shared"
    )


def test_partial_limits_are_completed_with_defaults():
    assert spec(limits={"timeoutMs": 500}).limits == Limits(500, 64, 1_000)


@pytest.mark.parametrize(
    "body, message",
    [
        ({"name": ""}, "name is required"),
        ({"name": "x" * 256}, "at most 255"),
        ({"name": 7}, "name is required"),
        ({"source": ""}, "source is required"),
        ({"source": None}, "source is required"),
        ({"description": 3}, "description must be"),
        ({"language": None}, "language is required"),
        ({"limits": {"timeoutMs": 0}}, "between 1 and 60000"),
        ({"limits": {"timeoutMs": 60_001}}, "between 1 and 60000"),
        ({"limits": {"memoryMb": "64"}}, "must be an integer"),
        ({"limits": {"fuel": True}}, "must be an integer"),
        ({"limits": {"cpu": 1}}, "unknown fields: cpu"),
        ({"limits": []}, "limits must be a JSON object"),
        ({"isolation": "private"}, "isolation must be one of: shared, dedicated"),
    ],
)
def test_invalid_fields_are_400(body, message):
    with pytest.raises(ValidationError, match=message):
        spec(**body)


def test_body_must_be_an_object():
    with pytest.raises(ValidationError, match="request body must be a JSON object"):
        parse_function_spec([1], policy=POLICY, max_source_bytes=100)


def test_unsupported_language_is_415():
    with pytest.raises(UnsupportedLanguage, match="'cobol' is not supported"):
        spec(language="cobol")


def test_oversize_source_is_413():
    with pytest.raises(PayloadTooLarge, match="at most 100 bytes"):
        spec(source="x" * 101)


@pytest.mark.parametrize("body", [None, {}, {"input": None}])
def test_missing_input_means_empty_object(body):
    assert parse_execute_input(body, max_input_bytes=100) == {}


@pytest.mark.parametrize("value", [[1], "s", 3, True])
def test_input_must_be_an_object(value):
    with pytest.raises(ValidationError, match="input must be a JSON object"):
        parse_execute_input({"input": value}, max_input_bytes=100)


def test_oversize_input_is_413():
    with pytest.raises(PayloadTooLarge):
        parse_execute_input({"input": {"k": "v" * 200}}, max_input_bytes=100)


def test_uuid_parsing():
    assert parse_uuid("00000000-0000-0000-0000-000000000001") == UUID(int=1)
    with pytest.raises(ValidationError, match="must be a UUID"):
        parse_uuid("abc")


def test_page_defaults_and_cursors():
    assert parse_page({}) == Page(100)
    assert parse_page({"limit": "5", "before": str(UUID(int=1))}) == Page(5, before_id=UUID(int=1))
    assert parse_page({"before": "2026-01-02T03:04:05Z"}).before_time == datetime(
        2026, 1, 2, 3, 4, 5, tzinfo=UTC
    )


@pytest.mark.parametrize(
    "args", [{"limit": "0"}, {"limit": "1001"}, {"limit": "x"}, {"before": "yesterday"}]
)
def test_bad_pages_are_400(args):
    with pytest.raises(ValidationError):
        parse_page(args)


@pytest.mark.parametrize(
    "body, message",
    [
        ({"name": "a\x00b"}, "name must not contain NUL characters"),
        ({"name": "\ud800"}, "name must be valid Unicode"),
        ({"name": " "}, None),  # any non-empty name, as the spec says
        ({"source": ""}, "source is required"),
        ({"description": "x\x00"}, "description must not contain NUL"),
    ],
)
def test_text_postgres_cannot_store_is_400(body, message):
    if message is None:
        assert spec(**body).name == body["name"]
        return
    with pytest.raises(ValidationError, match=message):
        spec(**body)


@pytest.mark.parametrize(
    "value, message",
    [
        ({"a": "x\x00"}, "input contains NUL characters"),
        ({"k\x00": 1}, "input contains NUL characters"),
        ({"a": ["\udc00"]}, "input contains lone UTF-16 surrogates"),
    ],
)
def test_input_postgres_cannot_store_is_400(value, message):
    with pytest.raises(ValidationError, match=message):
        parse_execute_input({"input": value}, max_input_bytes=1000)


def test_a_literal_backslash_u0000_is_fine():
    assert parse_execute_input({"input": {"a": "\\u0000"}}, max_input_bytes=100) == {"a": "\\u0000"}


def test_env_is_an_object_of_strings_default_empty():
    assert spec().env == {}
    assert spec(env={"A": "1", "b": ""}).env == {"A": "1", "b": ""}
    for env, message in (([], "env must be a JSON object"), ({"A": 1}, "env.A must be a string")):
        with pytest.raises(ValidationError, match=message):
            spec(env=env)


@pytest.mark.parametrize(
    "args, choice",
    [
        ({}, RevisionChoice()),
        ({"alias": "canary"}, RevisionChoice(alias="canary")),
        ({"alias": "latest"}, RevisionChoice(alias="latest")),
        ({"revision": "12"}, RevisionChoice(revision=12)),
    ],
)
def test_revision_choices(args, choice):
    assert parse_revision_choice(args) == choice


@pytest.mark.parametrize(
    "args, message",
    [
        ({"alias": "live", "revision": "1"}, "not both"),
        ({"revision": "0"}, "revision number"),
        ({"revision": "01"}, "revision number"),
        ({"revision": "99999999999"}, "revision number"),
        ({"alias": "Canary"}, "alias names match"),
        ({"alias": "x" * 64}, "alias names match"),
    ],
)
def test_bad_revision_choices_are_400(args, message):
    with pytest.raises(ValidationError, match=message):
        parse_revision_choice(args)


def test_alias_requests():
    assert parse_alias_request({"revision": 3}, "canary") == AliasRequest(revision=3)
    assert parse_alias_request({"revision": "latest"}, "live").follow_latest
    routes = parse_alias_request({"routes": {"4": 10, "3": 90.0}}, "canary")
    assert routes == AliasRequest(routes={4: 10, 3: 90}) and routes.revisions() == [3, 4]


@pytest.mark.parametrize(
    "body, name, message",
    [
        ({}, "canary", "send"),
        ({"revision": 1, "routes": {"1": 100}}, "canary", "send"),
        ({"revision": True}, "canary", "revision number"),
        ({"revision": "latest"}, "canary", "only live"),
        ({"routes": {"1": 100}}, "live", "one revision"),
        ({"routes": {}}, "canary", "at least one"),
        ({"routes": {"a": 100}}, "canary", "revision numbers"),
        ({"routes": {"1": 101, "2": -1}}, "canary", "non-negative"),
        ({"routes": {"1": 50}}, "canary", "sum to 100"),
        ({"routes": {"1": "100"}}, "canary", "non-negative integer"),
    ],
)
def test_bad_alias_requests_are_400(body, name, message):
    with pytest.raises(ValidationError, match=message):
        parse_alias_request(body, name)


def test_alias_names():
    assert parse_alias_name("a-1") == "a-1"
    assert parse_alias_name("latest") == "latest"
    with pytest.raises(ValidationError, match="cannot be set or deleted"):
        parse_alias_name("latest", writable=True)


def test_rollback_requests():
    assert parse_rollback_request(None) is None
    assert parse_rollback_request({}) is None
    assert parse_rollback_request({"revision": 2}) == 2
    with pytest.raises(ValidationError):
        parse_rollback_request({"revision": -2})
