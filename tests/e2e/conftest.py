"""The whole platform as real processes — gunicorn gateway with its runner supervisor,
result consumer, builder — on a fresh database, driven over HTTP."""

from __future__ import annotations

import io
import time

import pytest
import requests

from tests.conftest import temporary_database
from tools.platform import LocalPlatform, free_port  # noqa: F401 — the tests' import


class Api:
    def __init__(self, base: str) -> None:
        self.base = base
        self.session = requests.Session()

    def __getattr__(self, method: str):
        def call(path: str, **kwargs):
            return self.session.request(method.upper(), self.base + path, timeout=30, **kwargs)

        return call

    def wait_for_status(self, fid: str, wanted: set[str], timeout: float = 60.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            fn = self.get(f"/functions/{fid}").json()
            if fn["status"] in wanted:
                return fn
            time.sleep(0.05)
        raise TimeoutError(f"function {fid} stayed {fn['status']}")


def every_item(base: str, path: str) -> list[dict]:
    """Every item of a list endpoint, following the pages' `Link: rel="next"`."""
    found: list[dict] = []
    with requests.Session() as session:
        page = session.get(base + path, timeout=30)
        while True:
            found += page.json()
            if "next" not in page.links:
                return found
            page = session.get(base + page.links["next"]["url"], timeout=30)


@pytest.fixture(scope="session")
def platform(pg_url, template_url, tmp_path_factory):
    with temporary_database(pg_url, "nil_e2e") as url:
        yield from _running_platform(url, tmp_path_factory)


def _running_platform(url: str, tmp_path_factory):
    log = io.StringIO()
    platform = LocalPlatform.on_free_ports(
        url,
        tmp_path_factory.mktemp("nil_home"),
        runners=2,
        output=log,
        # exactly two runners: tests count them, and a runner compiling a Python
        # component for ~20 s would otherwise make the pool grow
        extra_env={"NIL_RUNNERS_MAX": "2"},
    )
    platform.start()
    try:
        platform.wait_ready(timeout=90)
    except Exception:
        platform.stop()
        raise RuntimeError(f"platform failed to start:\n{log.getvalue()[-5000:]}") from None
    platform.log = log
    yield platform
    platform.stop()


@pytest.fixture(scope="session")
def api(platform) -> Api:
    return Api(f"http://127.0.0.1:{platform.port}")
