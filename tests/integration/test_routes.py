"""Functions as web endpoints (SPEC §11): /fn/{route} on real runner processes, with
functions compiled by the real builder."""

from __future__ import annotations

import base64
import os

import pytest

from gateway import create_app
from tests.integration.helpers import function_body

# A JavaScript handler in the Lambda function-URL style: echoes the request it got,
# or answers what the query asks for.
WEB_JS = """
export function handle(event) {
  const q = event.query;
  if (q.mode === "raw") {
    return { statusCode: 200, headers: { "content-type": "application/octet-stream" },
             body: event.body, isBase64Encoded: event.isBase64Encoded };
  }
  if (q.mode === "created") {
    return { statusCode: 201,
             headers: { "content-type": "text/html; charset=utf-8", "x-thing": "7",
                        "content-length": "999", "transfer-encoding": "chunked",
                        "connection": "close" },
             body: "<p>made</p>" };
  }
  if (q.mode === "trap") { throw new Error("boom"); }
  return { method: event.method, path: event.path, query: q, body: event.body,
           isBase64Encoded: event.isBase64Encoded, type: event.headers["content-type"] || null,
           hopByHop: event.headers["connection"] || null };
}
"""


@pytest.fixture
def web(client, compile_all):
    def make(route, *, public=False, src=WEB_JS, language="javascript"):
        body = function_body(f"web-{route}", language, src, route=route, public=public)
        response = client.post("/functions", json=body)
        assert response.status_code == 201, response.json
        assert (response.json["route"], response.json["public"]) == (route, public)
        compile_all()
        fn = client.get(f"/functions/{response.json['id']}").json
        assert fn["status"] == "READY", fn["compileError"]
        return fn["id"]

    return make


def test_get_with_a_query_string_is_the_functions_input(client, web):
    fid = web("hello")
    response = client.get("/fn/hello/a/b?x=1&x=2&y=z", headers={"Connection": "keep-alive"})
    assert response.status_code == 200
    assert response.content_type == "application/json"
    assert response.json == {
        "method": "GET",
        "path": "/fn/hello/a/b",
        "query": {"x": "1,2", "y": "z"},
        "body": "",
        "isBase64Encoded": False,
        "type": None,
        "hopByHop": None,  # hop-by-hop headers never reach the function
    }
    execution_id = response.headers["X-Nil-Execution-Id"]
    execution = client.get(f"/executions/{execution_id}").json
    assert (execution["functionId"], execution["trigger"]) == (fid, "route")
    assert execution["status"] == "COMPLETED"


def test_post_with_a_json_body(client, web):
    web("api/users")
    response = client.post("/fn/api/users", json={"name": "ada"})
    assert response.status_code == 200
    assert response.json["method"] == "POST"
    assert response.json["body"] == '{"name": "ada"}'
    assert response.json["type"] == "application/json"
    assert response.json["isBase64Encoded"] is False


def test_put_with_a_binary_body_round_trips_byte_exact(client, web):
    web("blob")
    payload = bytes(range(256)) + os.urandom(4096)
    response = client.put("/fn/blob?mode=raw", data=payload)
    assert response.status_code == 200
    assert response.data == payload
    assert response.headers["Content-Type"] == "application/octet-stream"
    echoed = client.put("/fn/blob", data=b"\xff\x00binary").json
    assert echoed["isBase64Encoded"] is True
    assert base64.b64decode(echoed["body"]) == b"\xff\x00binary"


def test_a_status_code_output_is_exactly_the_response(client, web):
    web("made")
    response = client.post("/fn/made?mode=created")
    assert response.status_code == 201
    assert response.data == b"<p>made</p>"
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert response.headers["X-Thing"] == "7"
    assert response.headers["Content-Length"] == str(len(b"<p>made</p>"))  # not the function's
    assert "Transfer-Encoding" not in response.headers
    assert "Connection" not in response.headers
    assert response.headers["X-Nil-Execution-Id"]


def test_a_failing_function_is_a_502_json_error(client, web):
    web("fails")
    response = client.get("/fn/fails?mode=trap")
    assert response.status_code == 502
    assert response.json["error"] == "Bad Gateway"
    assert "boom" in response.json["message"]
    execution = client.get(f"/executions/{response.headers['X-Nil-Execution-Id']}").json
    assert (execution["status"], execution["trigger"]) == ("FAILED", "route")


def test_a_plain_object_output_is_200_json_and_the_longest_route_wins(client, web):
    web("echo", src=None, language="wat")  # echo.wat returns its input
    response = client.get("/fn/echo?a=1")
    assert response.status_code == 200
    assert response.json["query"] == {"a": "1"}
    assert client.get("/fn/nothing-here").status_code == 404
    assert client.get("/fn/nothing-here").json["error"] == "Not Found"


def test_routes_are_unique_and_validated(client, web):
    web("taken")
    clash = client.post("/functions", json=function_body("other", route="taken"))
    assert clash.status_code == 409
    assert "taken" in clash.json["message"]
    for bad in ("a/../b", "..", "has space", "Upper", "/lead", "trail/", "a//b", "", 7):
        response = client.post("/functions", json=function_body("bad", route=bad))
        assert response.status_code == 400, bad
        assert "route" in response.json["message"]
    assert client.post("/functions", json=function_body("x", public="yes")).status_code == 400


def test_a_body_over_the_input_limit_is_413(db_url, runner_dir, compile_all):
    app = create_app(
        {"database_url": db_url, "runner_dir": str(runner_dir), "max_input_bytes": 1000}
    )
    try:
        client = app.test_client()
        fid = client.post("/functions", json=function_body("e", route="small")).json["id"]
        compile_all()
        assert client.get(f"/functions/{fid}").json["status"] == "READY"
        assert client.post("/fn/small", data=b"x" * 500).status_code == 200
        response = client.post("/fn/small", data=b"x" * 2000)
        assert response.status_code == 413
        assert response.json["error"] == "Payload Too Large"
    finally:
        app.extensions["nil"].close()


def test_with_api_keys_a_private_route_needs_a_key_and_a_public_one_does_not(
    db_url, runner_dir, compile_all
):
    app = create_app({"database_url": db_url, "runner_dir": str(runner_dir), "api_keys": ("k1",)})
    try:
        client = app.test_client()
        key = {"Authorization": "Bearer k1"}
        for route, public in (("private", False), ("open", True)):
            body = function_body(route, route=route, public=public)
            assert client.post("/functions", json=body, headers=key).status_code == 201
        compile_all()
        refused = client.get("/fn/private")
        assert refused.status_code == 401
        assert refused.json["error"] == "Unauthorized"
        assert (
            client.get("/fn/private", headers={"Authorization": "Bearer nope"}).status_code == 401
        )
        allowed = client.get("/fn/private", headers=key)
        assert allowed.status_code == 200
        assert "authorization" not in allowed.json["headers"]  # the platform's key stays out
        opened = client.get("/fn/open", headers={"Authorization": "Bearer guess"})
        assert opened.status_code == 200
        # a wrong key is no more visible to the function than a right one
        assert "authorization" not in opened.json["headers"]
        # anyone gets the live revision; choosing another takes a key
        assert client.get("/fn/open?revision=1").status_code == 401
        assert client.get("/fn/open?revision=1", headers=key).status_code == 200
        # an unknown route looks like a private one to a caller without a key: no
        # enumerating route names by 401 against 404
        for path in ("/fn/unknown", "/fn/unknown?revision=x", "/fn/private/below"):
            assert client.get(path).status_code == 401, path
        assert client.get("/fn/unknown", headers=key).status_code == 404
        assert client.get("/fn/unknown?revision=x", headers=key).status_code == 404
        # a public route's refusals name its path, not the function's id
        open_id = client.get("/functions?name=open", headers=key).json[0]["id"]
        missing = client.get("/fn/open?alias=nope", headers=key)
        assert missing.status_code == 404
        assert "/fn/open" in missing.json["message"]
        assert open_id not in missing.json["message"]
    finally:
        app.extensions["nil"].close()
