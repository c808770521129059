"""A function has at most MAX_SCHEDULES_PER_FUNCTION schedules, even when creations race:
one more is a 409 in the error shape, and deleting one makes room again."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from db.schedules import MAX_SCHEDULES_PER_FUNCTION
from tests.integration.helpers import function_body
from tests.integration.test_api_functions import assert_error


def test_schedules_past_the_cap_are_409_even_when_created_at_once(app, client):
    fid = client.post("/functions", json=function_body()).json["id"]
    path = f"/functions/{fid}/schedules"

    def create(_: int) -> int:
        with app.test_client() as own:  # one client per thread
            return own.post(path, json={"cron": "* * * * *"}).status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(create, range(MAX_SCHEDULES_PER_FUNCTION + 20)))

    assert statuses.count(201) == MAX_SCHEDULES_PER_FUNCTION
    assert statuses.count(409) == 20
    schedules = client.get(path).json
    assert len(schedules) == MAX_SCHEDULES_PER_FUNCTION
    assert_error(client.post(path, json={"cron": "* * * * *"}), 409, "at most")

    assert client.delete(f"{path}/{schedules[0]['id']}").status_code == 204
    assert client.post(path, json={"cron": "* * * * *"}).status_code == 201


def test_an_unknown_function_is_still_404(client):
    response = client.post(
        "/functions/00000000-0000-0000-0000-000000000000/schedules", json={"cron": "* * * * *"}
    )
    assert_error(response, 404, "not found")
