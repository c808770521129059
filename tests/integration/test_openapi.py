"""The served OpenAPI document describes exactly the routes the app serves."""

import re


def test_every_route_is_documented_and_every_documented_route_exists(app, client):
    served = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = re.sub(r"<(?:[^:>]+:)?[^>]+>", "{id}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            served.add((path, method.lower()))
    doc = client.get("/openapi.json").json
    documented = {
        (path, method)
        for path, item in doc["paths"].items()
        for method in item
        if method != "parameters"
    }
    assert doc["openapi"].startswith("3.")
    assert documented == served


def test_every_reference_resolves(client):
    doc = client.get("/openapi.json").json
    refs = set(re.findall(r'"\$ref": "#/components/(\w+)/(\w+)"', str(doc).replace("'", '"')))
    assert refs
    for kind, name in refs:
        assert name in doc["components"][kind]
