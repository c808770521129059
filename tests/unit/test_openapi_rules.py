"""The rules of tests/openapi/rules.py catch what generated clients trip on: an
operation without a tag, without error responses, or with an untyped body."""

import copy

from gateway.openapi import openapi_document
from gateway.settings import Settings
from tests.openapi.rules import document_problems


def _document() -> dict:
    return copy.deepcopy(openapi_document(Settings()))


def test_the_gateways_document_passes():
    assert document_problems(_document()) == []


def test_an_operation_without_a_tag_fails():
    doc = _document()
    del doc["paths"]["/functions"]["get"]["tags"]
    doc["paths"]["/functions"]["post"]["tags"] = ["aliases"]
    assert sorted(p.split(":")[0] for p in document_problems(doc)) == [
        "GET /functions",
        "POST /functions",
    ]


def test_an_operation_without_error_responses_fails():
    doc = _document()
    responses = doc["paths"]["/executions/{id}"]["get"]["responses"]
    doc["paths"]["/executions/{id}"]["get"]["responses"] = {"200": responses["200"]}
    assert document_problems(doc) == [
        "GET /executions/{id}: no `default` response",
        "GET /executions/{id}: needs a key but documents no 401 and 429",
        "GET /executions/{id}: no 4xx response",
    ]


def test_an_error_response_that_is_not_the_error_shape_fails():
    doc = _document()
    ok = doc["paths"]["/health"]["get"]["responses"]["200"]
    doc["paths"]["/health"]["get"]["responses"]["default"] = ok
    assert document_problems(doc) == ["GET /health: response default: not the Error shape"]


def test_untyped_bodies_fail():
    doc = _document()
    doc["components"]["schemas"]["Execution"]["properties"]["input"] = {"type": "object"}
    doc["paths"]["/functions/{id}/execute"]["post"]["requestBody"]["content"]["application/json"][
        "schema"
    ] = {}
    doc["components"]["schemas"]["Health"]["properties"]["status"] = {"type": "array"}
    problems = document_problems(doc)
    assert "POST /functions/{id}/execute: untyped schema at request body application/json" in (
        problems
    )
    assert (
        "GET /executions/{id}: untyped schema at #/components/schemas/Execution/properties/input"
        in problems
    )
    assert (
        "GET /health: untyped schema at #/components/schemas/Health/properties/status" in problems
    )


def test_missing_headers_fail():
    doc = _document()
    del doc["paths"]["/functions"]["post"]["responses"]["201"]["headers"]["Location"]
    del doc["components"]["responses"]["TooManyRequests"]["headers"]["Retry-After"]
    del doc["components"]["responses"]["NotFound"]["headers"]["X-Request-Id"]
    problems = document_problems(doc)
    assert "POST /functions: response 201: no Location header" in problems
    assert "GET /functions: response 429: no Retry-After header" in problems
    assert "GET /executions/{id}: response 404: no X-Request-Id header" in problems
