"""The served OpenAPI document: it describes exactly the routes the app serves, passes
the rules every operation is held to (tests/openapi/rules.py) and Redocly's
recommended lint, with no error and no warning."""

import re

from tests.openapi import toolchain
from tests.openapi.rules import document_problems


def test_every_route_is_documented_and_every_documented_route_exists(app, client):
    served = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = re.sub(r"<(?:[^:>]+:)?[^>]+>", "{}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            served.add((path, method.lower()))
    doc = client.get("/openapi.json").json
    documented = {
        (re.sub(r"\{[^}]+\}", "{}", path), method)
        for path, item in doc["paths"].items()
        for method in item
        if method != "parameters"
    }
    assert doc["openapi"].startswith("3.")
    assert documented == served


def test_every_reference_resolves(client):
    doc = client.get("/openapi.json").json
    refs = set(re.findall(r'"\$ref": "#/components/(\w+)/([\w-]+)"', str(doc).replace("'", '"')))
    assert refs
    for kind, name in refs:
        assert name in doc["components"][kind]


def test_every_operation_is_tagged_typed_and_documents_its_errors(client):
    assert document_problems(client.get("/openapi.json").json) == []


def test_redocly_recommended_rules_pass(client, tmp_path):
    linted = toolchain.redocly_lint(client.get("/openapi.json").json, tmp_path)
    assert linted.returncode == 0, linted.stdout + linted.stderr
    assert "Your API description is valid" in linted.stdout + linted.stderr
    assert "warning" not in linted.stdout + linted.stderr


def test_the_limits_are_the_gateways_own(app, client):
    settings = app.extensions["nil"].settings
    doc = client.get("/openapi.json").json
    source = doc["components"]["schemas"]["FunctionRequest"]["properties"]["source"]
    assert "maxLength" not in source  # the server counts bytes, JSON Schema characters
    assert f"{settings.max_source_bytes} bytes" in source["description"]
    too_large = doc["components"]["responses"]["PayloadTooLarge"]["description"]
    for limit in (settings.max_body_bytes, settings.max_source_bytes, settings.max_input_bytes):
        assert f"{limit} bytes" in too_large
    limits = doc["components"]["schemas"]["LimitsRequest"]["properties"]
    assert limits["memoryMb"]["maximum"] == settings.max_memory_mb
