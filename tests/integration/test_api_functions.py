"""The functions API and the error shape of every error status (SPEC §3)."""

import pytest

from tests.integration.helpers import function_body

ERROR_KEYS = {"timestamp", "status", "error", "message", "requestId"}


def assert_error(response, status, fragment=""):
    assert response.status_code == status, response.data
    assert response.content_type == "application/json"
    body = response.json
    assert set(body) == ERROR_KEYS
    assert body["status"] == status
    assert fragment in body["message"]
    assert "Traceback" not in response.get_data(as_text=True)


def test_create_answers_201_with_location(client):
    response = client.post("/functions", json=function_body(description="echoes"))
    assert response.status_code == 201
    body = response.json
    assert response.headers["Location"] == f"/functions/{body['id']}"
    assert body["status"] == "PENDING" and body["revision"] == 1
    assert body["limits"] == {"timeoutMs": 10000, "memoryMb": 64, "fuel": 2_000_000_000}
    assert body["createdAt"].endswith("Z")
    assert client.get(body and response.headers["Location"]).json == body


def test_list_is_newest_first_and_paginates(client):
    ids = [client.post("/functions", json=function_body(name=f"f{i}")).json["id"] for i in range(5)]
    listed = client.get("/functions").json
    assert [f["id"] for f in listed] == ids[::-1]
    assert set(listed[0]) == {"id", "name", "language", "status", "createdAt", "updatedAt"}
    page = client.get("/functions?limit=2")
    assert [f["id"] for f in page.json] == ids[:2:-1]
    assert 'rel="next"' in page.headers["Link"]
    rest = client.get(f"/functions?limit=10&before={ids[3]}").json
    assert [f["id"] for f in rest] == ids[2::-1]


def test_list_filters_by_exact_name(client):
    ids = [client.post("/functions", json=function_body(name=n)).json["id"] for n in ("a", "ab")]
    again = client.post("/functions", json=function_body(name="a")).json["id"]
    assert [f["id"] for f in client.get("/functions?name=a").json] == [again, ids[0]]
    assert [f["id"] for f in client.get("/functions?name=ab").json] == [ids[1]]
    assert client.get("/functions?name=A").json == []
    page = client.get("/functions?name=a&limit=1")
    assert [f["id"] for f in page.json] == [again]
    assert "name=a" in page.headers["Link"]
    assert_error(client.get("/functions?name="), 400, "name")
    assert_error(client.get("/functions?name=%00"), 400, "NUL")


def test_delete_returns_204_and_the_function_is_gone(client):
    fid = client.post("/functions", json=function_body()).json["id"]
    response = client.delete(f"/functions/{fid}")
    assert response.status_code == 204 and response.data == b""
    assert_error(client.get(f"/functions/{fid}"), 404, "not found")
    assert_error(client.delete(f"/functions/{fid}"), 404)


@pytest.mark.parametrize(
    "data, status, fragment",
    [
        ("{not json", 400, "valid JSON"),
        ("[1, 2]", 400, "JSON object"),
        ('{"language": "wat", "source": "x"}', 400, "name is required"),
        (
            '{"name": "n", "language": "wat", "source": "x", "limits": {"memoryMb": 9999}}',
            400,
            "limits.memoryMb",
        ),
        ('{"name": "n", "language": "cobol", "source": "x"}', 415, "not supported"),
    ],
)
def test_bad_bodies(client, data, status, fragment):
    assert_error(
        client.post("/functions", data=data, content_type="application/json"), status, fragment
    )


def test_put_validates_like_post(client):
    fid = client.post("/functions", json=function_body()).json["id"]
    assert_error(client.put(f"/functions/{fid}", json={"name": ""}), 400)
    assert_error(client.put(f"/functions/{fid}", json=function_body(language="go")), 415)
    assert_error(
        client.put("/functions/00000000-0000-0000-0000-000000000000", json=function_body()), 404
    )


def test_path_id_that_is_not_a_uuid_is_400(client):
    for method, path in [
        ("get", "/functions/nope"),
        ("delete", "/functions/nope"),
        ("post", "/functions/nope/execute"),
        ("get", "/executions/42"),
        ("get", "/functions/x/executions"),
    ]:
        assert_error(getattr(client, method)(path), 400, "must be a UUID")


def test_unknown_route_is_404_and_wrong_method_405(client):
    assert_error(client.get("/nowhere"), 404)
    response = client.patch("/functions")
    assert_error(response, 405)
    assert "POST" in response.headers["Allow"]


def test_oversize_body_is_413_in_the_words_of_the_other_413s(app, client):
    limit = app.extensions["nil"].settings.max_body_bytes
    response = client.post("/functions", data=b"x" * (limit + 1), content_type="application/json")
    assert_error(response, 413, f"the request body must be at most {limit} bytes")
    assert response.json["error"] == "Payload Too Large"


def test_oversize_source_is_413(client):
    assert_error(
        client.post("/functions", json=function_body(src="x" * (1024 * 1024 + 1))),
        413,
        "source must be at most",
    )


def test_request_id_is_echoed_or_generated(client):
    assert (
        client.get("/health", headers={"X-Request-Id": "abc-123"}).headers["X-Request-Id"]
        == "abc-123"
    )
    assert len(client.get("/health").headers["X-Request-Id"]) == 32


def test_probes(client):
    assert client.get("/health").json == {"status": "UP"}
    ready = client.get("/ready")
    assert ready.status_code == 200
    assert ready.json["components"]["database"] == {"status": "UP"}
    assert ready.json["components"]["runners"]["status"] == "UP"


def test_ready_reports_missing_runners_without_turning_not_ready(db_url, tmp_path):
    """Readiness is "this pod can serve": runners shared by every gateway being busy or
    gone must not turn every gateway NotReady at once (issue 24)."""
    from gateway import create_app

    app = create_app({"database_url": db_url, "runner_dir": str(tmp_path)})
    try:
        response = app.test_client().get("/ready")
        assert response.status_code == 200
        assert response.json["components"]["runners"]["status"] == "DOWN"
        assert response.json["components"]["runners"]["healthy"] == 0
    finally:
        app.extensions["nil"].close()


def test_ready_is_503_before_the_migrations(fresh_database, tmp_path):
    from gateway import create_app

    app = create_app({"database_url": fresh_database, "runner_dir": str(tmp_path)})
    try:
        response = app.test_client().get("/ready")
        assert response.status_code == 503
        assert response.json["components"]["database"]["status"] == "DOWN"
        assert "schema is not ready" in response.json["components"]["database"]["message"]
    finally:
        app.extensions["nil"].close()


def test_api_keys_guard_everything_but_the_probes(db_url, runner_dir):
    from gateway import create_app

    app = create_app(
        {"database_url": db_url, "runner_dir": str(runner_dir), "api_keys": ("k1", "k2")}
    )
    client = app.test_client()
    try:
        assert_error(client.get("/functions"), 401)
        assert_error(client.get("/functions", headers={"Authorization": "Bearer nope"}), 401)
        assert client.get("/functions", headers={"Authorization": "Bearer k2"}).status_code == 200
        for open_path in ("/health", "/ready", "/metrics"):
            assert client.get(open_path).status_code == 200
    finally:
        app.extensions["nil"].close()


def test_each_api_key_is_rate_limited_on_its_own(db_url, runner_dir):
    from gateway import create_app

    app = create_app(
        {
            "database_url": db_url,
            "runner_dir": str(runner_dir),
            "api_keys": ("key-a", "key-b"),
            "rate_limit_per_second": 0.5,
            "rate_limit_burst": 2,
        }
    )
    client = app.test_client()
    a = {"Authorization": "Bearer key-a"}
    try:
        assert [client.get("/functions", headers=a).status_code for _ in range(2)] == [200, 200]
        limited = client.get("/functions", headers=a)
        assert_error(limited, 429, "rate limit exceeded")
        assert limited.headers["Retry-After"] == "2"
        assert (
            client.get("/functions", headers={"Authorization": "Bearer key-b"}).status_code == 200
        )
        assert client.get("/health").status_code == 200  # probes are never limited
    finally:
        app.extensions["nil"].close()
