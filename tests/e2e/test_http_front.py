"""The gateway's HTTP front against hostile clients (issue 13, findings 3 and 7): slow
headers and bodies, requests gunicorn refuses before the app, oversized chunked bodies,
and wrong API keys — over raw sockets on loopback, against real gateway processes."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.e2e.conftest import free_port
from tests.e2e.test_seed_flow import ready_function
from tests.integration.helpers import source
from tests.runner.wat import raw_module
from tools.platform import ROOT

ERROR_KEYS = {"timestamp", "status", "error", "message"}


def raw_exchange(port: int, data: bytes, timeout: float = 10.0) -> http.client.HTTPResponse:
    """Send `data` as is on a new connection and read the one answer (body included)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        sock.sendall(data)
        response = http.client.HTTPResponse(sock)
        response.begin()
        response.body = response.read()
        return response
    finally:
        sock.close()


def assert_json_error(response, status: int) -> dict:
    assert response.status == status, (response.status, response.body[:300])
    assert response.getheader("Content-Type") == "application/json"
    import json

    body = json.loads(response.body)
    assert set(body) >= ERROR_KEYS, body
    assert body["status"] == status and body["error"] and body["message"]
    return body


class Swarm:
    """`bodies` connections that sent headers announcing a 1000-byte body and trickle it
    one byte at a time, and `headers` connections that trickle their header lines. A
    thread sends the next byte on each every `interval` seconds; everything stops after
    `seconds` at most, or when the block ends."""

    def __init__(self, port: int, *, bodies: int, headers: int, seconds: float = 20.0) -> None:
        self.port, self.bodies, self.headers, self.seconds = port, bodies, headers, seconds
        self.interval = 0.5
        self.socks: list[socket.socket] = []
        self.closed_by_server = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._trickle, daemon=True)

    def __enter__(self) -> Swarm:
        body_head = (
            b"POST /functions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000\r\n\r\n{"
        )
        for i in range(self.bodies + self.headers):
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
            sock.sendall(body_head if i < self.bodies else b"GET /health HTTP/1.1\r\n")
            self.socks.append(sock)
        self.deadline = time.monotonic() + self.seconds
        self.thread.start()
        return self

    def _trickle(self) -> None:
        while not self.stop.wait(self.interval) and time.monotonic() < self.deadline:
            for i, sock in enumerate(self.socks):
                if sock.fileno() < 0:
                    continue
                try:
                    sock.send(b" " if i < self.bodies else b"X-Slow: 1\r\n")
                except OSError:
                    self.closed_by_server += 1
                    sock.close()

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join(timeout=10)
        for sock in self.socks:
            sock.close()


def timed_get(url: str, timeout: float = 10.0) -> tuple[float, int]:
    started = time.monotonic()
    try:
        status = requests.get(url, timeout=timeout).status_code
    except requests.Timeout:
        status = 0
    return time.monotonic() - started, status


def test_slow_bodies_and_headers_do_not_stop_other_clients(api, platform):
    fid = ready_function(api, "swarm-echo", "wat", source("echo.wat"))
    base = f"http://127.0.0.1:{platform.port}"
    with Swarm(platform.port, bodies=200, headers=50) as swarm:
        time.sleep(1.0)  # the swarm holds everything it can hold
        ready = timed_get(f"{base}/ready")
        started = time.monotonic()
        executed = requests.post(
            f"{base}/functions/{fid}/execute", json={"input": {"during": "swarm"}}, timeout=10
        )
        execute_seconds = time.monotonic() - started
        assert swarm.closed_by_server == 0  # still trickling: the swarm was there throughout
    assert ready[1] == 200 and ready[0] < 1.0, ready
    assert executed.status_code == 200 and executed.json()["output"] == {"during": "swarm"}
    assert execute_seconds < 1.0


@pytest.mark.parametrize(
    "raw, status",
    [
        (b"NOT A REQUEST LINE\r\n\r\n", 400),
        (b"GET /\x01 HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
        (b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n", 431),
        (
            b"GET /health HTTP/1.1\r\nHost: x\r\n"
            + b"".join(b"X-H%d: 1\r\n" % i for i in range(120))
            + b"\r\n",
            431,
        ),
        (b"POST /functions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: br, chunked\r\n\r\n", 501),
    ],
    ids=["request-line", "bad-uri", "uri-too-long", "header-too-large", "too-many-headers", "te"],
)
def test_errors_gunicorn_refuses_before_the_app_are_json(platform, raw, status):
    assert_json_error(raw_exchange(platform.port, raw), status)


@pytest.mark.parametrize("path", ["/functions", "/health", "/no/such/route"])
def test_options_answers_json(api, path):
    response = api.options(path)
    assert response.headers["Content-Type"] == "application/json"
    assert response.status_code in (404, 405)
    assert set(response.json()) >= ERROR_KEYS


def test_a_chunked_body_over_the_limit_is_413(platform):
    chunk = b"x" * 65536
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(160))  # 10 MiB
    raw = (
        b"POST /functions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n" + chunks + b"0\r\n\r\n"
    )
    body = assert_json_error(raw_exchange(platform.port, raw), 413)
    assert "bytes" in body["message"]


@pytest.mark.parametrize(
    "size_line", [b"FFFFFFFFFFFFFFFFFFFF", b"%x" % (6 * 1024 * 1024 + 1), b"400000\r\n"]
)
def test_a_chunk_announced_over_the_limit_is_413_at_once(platform, size_line):
    """A chunk-size line over the body limit (alone, or with the chunks before it) is
    refused when it arrives, as an announced Content-Length is: not after the body
    deadline, whatever the client sends next."""
    if size_line.endswith(b"\r\n"):  # a 4 MiB chunk sent whole, then another 4 MiB one
        size_line = size_line + b"x" * (4 << 20) + b"\r\n400000"
    raw = (
        b"POST /functions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n" + size_line + b"\r\n{"
    )
    started = time.monotonic()
    body = assert_json_error(raw_exchange(platform.port, raw, timeout=8), 413)
    assert "bytes" in body["message"]
    assert time.monotonic() - started < 5.0


def test_a_chunked_body_under_the_limit_reaches_the_app(api, platform):
    raw = (
        b"POST /functions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b'Transfer-Encoding: chunked\r\n\r\n3\r\n{"a\r\n4\r\n": 1\r\n1\r\n}\r\n0\r\n\r\n'
    )
    body = assert_json_error(raw_exchange(platform.port, raw), 400)
    assert body["message"] == "name is required and must be a non-empty string"


# --- a dedicated gateway with short read deadlines and API keys -----------------------

API_KEY = "gateway-13-key"
WRITE_SECONDS = 4
BIG_OUTPUT = 5 * 1024 * 1024


@pytest.fixture(scope="module")
def strict_gateway(platform, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A one-process gateway on the session's database and runners, with read deadlines of
    one second, a write deadline of WRITE_SECONDS, 16 MiB for slow readers, an API key,
    and the failed-auth limit at its defaults. Returns its port."""
    home = tmp_path_factory.mktemp("strict_gateway")
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": platform.database_url,
        "NIL_HOME": str(home),
        "PORT": str(port),
        "NIL_API_KEYS": API_KEY,
        "NIL_GATEWAY_WORKERS": "1",
        "NIL_REQUEST_HEADER_TIMEOUT_SECONDS": "1",
        "NIL_REQUEST_BODY_TIMEOUT_SECONDS": "1",
        "NIL_RESPONSE_WRITE_TIMEOUT_SECONDS": str(WRITE_SECONDS),
        "NIL_SLOW_RESPONSE_BYTES": str(16 << 20),  # three 5 MiB answers
        "NIL_SUPERVISE_RUNNERS": "0",
        "NIL_RUNNER_DIR": str(platform.home / "runners"),
    }
    log_path = home / "gateway.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gateway"], cwd=ROOT, env=env, stdout=log, stderr=log
        )
    try:
        _wait_healthy(port, proc, log_path)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _wait_healthy(port: int, proc: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if requests.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return
        except (requests.ConnectionError, requests.Timeout):
            pass  # not listening yet, or its worker still booting on a loaded machine
        time.sleep(0.1)
    raise RuntimeError(f"the strict gateway did not start:\n{log.read_text()[-3000:]}")


def _trickle_until_answered(sock: socket.socket, piece: bytes, seconds: float) -> bytes:
    """Send `piece` every 0.2 s until the server answers (or `seconds` pass)."""
    sock.settimeout(0.2)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            data = sock.recv(65536)
        except TimeoutError:
            try:
                sock.send(piece)
            except OSError:
                return b""
            continue
        return data
    return b""


@pytest.mark.parametrize(
    "head, piece",
    [
        (b"GET /health HTTP/1.1\r\nHost: x\r\n", b"X-Slow: 1\r\n"),
        (b"POST /functions HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{", b" "),
    ],
    ids=["headers", "body"],
)
def test_a_request_that_arrives_too_slowly_is_a_json_408(strict_gateway, head, piece):
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", strict_gateway), timeout=5) as sock:
        sock.sendall(head)
        answer = _trickle_until_answered(sock, piece, seconds=10)
        elapsed = time.monotonic() - started
        while b"\r\n\r\n" in answer and not answer.endswith(b"}"):
            more = sock.recv(65536)
            if not more:
                break
            answer += more
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line.startswith(b"HTTP/1.1 408"), answer[:300]
    assert b"Content-Type: application/json" in rest
    assert b'"status":408' in rest.replace(b" ", b"")
    assert 0.9 < elapsed < 4.0


def _get_from(address: str, port: int, path: str, key: str) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(address, 0))
    try:
        conn.request("GET", path, headers={"Authorization": f"Bearer {key}"})
        response = conn.getresponse()
        response.body = response.read()
        return response
    finally:
        conn.close()


def test_wrong_keys_from_one_address_are_rate_limited_and_other_addresses_are_not(
    strict_gateway,
):
    statuses = []
    for i in range(250):
        response = _get_from("127.0.0.1", strict_gateway, "/functions", f"wrong-{i}")
        statuses.append(response.status)
        if response.status == 429:
            assert int(response.getheader("Retry-After")) >= 1
            assert_json_error(response, 429)
    assert set(statuses) == {401, 429}
    assert statuses.count(401) <= 30 and statuses[-1] == 429
    # the limited address is refused whatever key it sends, so guessing stays bounded ...
    assert _get_from("127.0.0.1", strict_gateway, "/functions", API_KEY).status == 429
    # ... while a valid key from another address is served, and probes stay open
    assert _get_from("127.0.0.2", strict_gateway, "/functions", API_KEY).status == 200
    assert _get_from("127.0.0.1", strict_gateway, "/ready", "").status == 200


def big_string_module(size: int) -> str:
    """A module whose output is a JSON string of `size` letters."""
    return raw_module(
        "(i32.store8 (i32.const 16) (i32.const 34))"
        f" (memory.fill (i32.const 17) (i32.const 97) (i32.const {size}))"
        f" (i32.store8 (i32.const {17 + size}) (i32.const 34))"
        f" (i64.or (i64.shl (i64.const 16) (i64.const 32)) (i64.const {size + 2}))",
        memory=str(size // 65536 + 2),
    )


ESTABLISHED = 1  # tcp_info.tcpi_state


def _established(sock: socket.socket) -> bool:
    """Whether the connection is still up as the client sees it: a gateway that closes
    normally queues its FIN behind the bytes the client has not read, so only a reset
    ends it for a client that reads nothing."""
    return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)[0] == ESTABLISHED


def _stalled_clients(port: int, execution_id: str, count: int) -> list[socket.socket]:
    """`count` connections with a 4 KiB receive buffer that ask for the execution and
    never read the answer."""
    request = (
        f"GET /executions/{execution_id} HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Bearer {API_KEY}\r\n\r\n"
    ).encode()
    socks = []
    for _ in range(count):
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.bind(("127.0.0.3", 0))  # not 127.0.0.1, which the auth test rate-limits
        sock.connect(("127.0.0.1", port))
        sock.sendall(request)
        socks.append(sock)
    return socks


@pytest.fixture(scope="module")
def big_execution(api) -> tuple[str, int]:
    """An execution whose output is a 5 MiB JSON string, and the size of its GET."""
    fid = ready_function(api, "big-output", "wat", big_string_module(BIG_OUTPUT))
    executed = api.post(f"/functions/{fid}/execute", json={})
    assert executed.status_code == 200 and executed.json()["status"] == "COMPLETED"
    return executed.json()["id"], len(executed.content)


def test_clients_that_read_nothing_are_reset_by_the_budget_or_the_write_deadline(
    strict_gateway, big_execution
):
    """Six clients that read nothing of a 5 MiB answer from a worker that holds 16 MiB
    for slow readers: three fit and are reset at the write deadline, the others at once;
    other clients are served meanwhile."""
    started = time.monotonic()
    stalled = _stalled_clients(strict_gateway, big_execution[0], 6)
    try:
        reset_at: dict[int, float] = {}
        served = False
        while len(reset_at) < len(stalled) and time.monotonic() - started < WRITE_SECONDS + 8:
            for i, sock in enumerate(stalled):
                if i not in reset_at and not _established(sock):
                    reset_at[i] = time.monotonic() - started
            if len(reset_at) >= 3 and not served:  # while the others are still held
                assert _get_from("127.0.0.2", strict_gateway, "/health", API_KEY).status == 200
                served = True
            time.sleep(0.05)
        assert served and len(reset_at) == len(stalled), reset_at  # before: all up at 40 s
        times = sorted(reset_at.values())
        assert times[2] < WRITE_SECONDS - 1.0, times  # past the budget: at once
        assert times[-1] > WRITE_SECONDS - 0.5, times  # within it: at the deadline
    finally:
        for sock in stalled:
            sock.close()
    assert _get_from("127.0.0.2", strict_gateway, "/functions", API_KEY).status == 200


def test_clients_that_read_nothing_of_an_answer_the_kernel_takes_whole_are_reset_too(
    strict_gateway, api
):
    """A 1.5 MiB answer fits in the kernel's send queue (up to 4 MiB a socket), so every
    send succeeds at once; the worker still watches the queue until the client takes it,
    and resets a client that takes nothing at the write deadline (before: they stayed
    connected, holding 1.5 MiB of kernel memory each, outside the budget)."""
    fid = ready_function(api, "mid-output", "wat", big_string_module(3 << 19))
    executed = api.post(f"/functions/{fid}/execute", json={})
    assert executed.status_code == 200 and executed.json()["status"] == "COMPLETED"
    started = time.monotonic()
    stalled = _stalled_clients(strict_gateway, executed.json()["id"], 4)
    try:
        reset_at: dict[int, float] = {}
        while len(reset_at) < len(stalled) and time.monotonic() - started < WRITE_SECONDS + 8:
            for i, sock in enumerate(stalled):
                if i not in reset_at and not _established(sock):
                    reset_at[i] = time.monotonic() - started
            time.sleep(0.05)
        assert len(reset_at) == len(stalled), reset_at
        assert min(reset_at.values()) > WRITE_SECONDS - 0.5, reset_at  # at the deadline
    finally:
        for sock in stalled:
            sock.close()
    assert _get_from("127.0.0.2", strict_gateway, "/functions", API_KEY).status == 200


def test_a_client_that_reads_slowly_but_steadily_gets_the_whole_response(
    strict_gateway, big_execution
):
    """The deadline is per send: a client taking 128 KiB every 0.1 s (~4 s for the
    answer, longer than the 1 s read deadlines) is not cut off."""
    execution_id, size = big_execution
    address = ("127.0.0.1", strict_gateway)
    with socket.create_connection(address, timeout=10, source_address=("127.0.0.4", 0)) as sock:
        sock.sendall(
            f"GET /executions/{execution_id} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            f"Authorization: Bearer {API_KEY}\r\n\r\n".encode()
        )
        received = b""
        while piece := sock.recv(128 * 1024):
            received += piece
            time.sleep(0.1)
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and len(body) == size, (head, len(body))
