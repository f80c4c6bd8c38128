"""The API of a real node (`scheduler0 start`) against clients that misbehave: hundreds
of idle and stalled connections, bodies declared or streamed beyond ApiMaxBodyMb, oversized
headers and unreadable requests, and the open-file limit of the API process.

Raw sockets on loopback; every read carries a client timeout as its bound. Latencies are printed
(pytest -s), never asserted.
"""

from __future__ import annotations

import json
import os
import resource
import select
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from scheduler0.api import openapi
from scheduler0.testing import wait_for
from tests.integration.nodeproc import NodeProcess

pytestmark = pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="reads /proc (Linux)")

CLIENT_TIMEOUT = 5.0  # seconds: the bound on every answer a test waits for
MIB = 1024 * 1024
SLOW_CLIENTS = 300
PARTIAL_HEADER = b"GET /api/v1/healthcheck HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "


class LimitedNode(NodeProcess):
    """A node whose processes start with RLIMIT_NOFILE = `nofile` (soft, hard)."""

    def __init__(self, workdir: Path, nofile: tuple[int, int], **settings: Any):
        super().__init__(workdir, **settings)
        self.nofile = nofile

    def start(self, config_path: str | None = None) -> LimitedNode:
        with open(self.log_path, "ab") as log:  # the child keeps its own copy
            self.proc = subprocess.Popen([sys.executable, "-m", "scheduler0.cli", "start"],
                                         cwd=self.workdir, env=self.env, stdout=log,
                                         stderr=subprocess.STDOUT, preexec_fn=self._limit)
        self._known_pids.add(self.proc.pid)
        return self

    def _limit(self) -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, self.nofile)


@pytest.fixture
def limited_node(tmp_path: Path) -> Iterator[Any]:
    started: list[NodeProcess] = []

    def make(nofile: tuple[int, int], **settings: Any) -> LimitedNode:
        workdir = tmp_path / f"limited{len(started)}"
        workdir.mkdir()
        node = LimitedNode(workdir, nofile, **settings)
        started.append(node)
        return node

    yield make
    for node in started:
        node.kill_all()


# -- raw HTTP on a socket ----------------------------------------------------------------------


def connect(node: NodeProcess) -> socket.socket:
    return socket.create_connection(("127.0.0.1", node.port), timeout=CLIENT_TIMEOUT)


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One HTTP response (status, lower-case headers, body); each recv is bounded by the
    socket's timeout and the whole by a size cap."""
    received = b""
    for _ in range(1000):
        if b"\r\n\r\n" in received:
            break
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before a response: {received[:200]!r}"
        received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {name.strip().lower(): value.strip()
               for name, _, value in (line.partition(":") for line in lines[1:])}
    length = int(headers.get("content-length", "0"))
    for _ in range(1000):
        if len(body) >= length:
            break
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(lines[0].split()[1]), headers, body[:length]


def exchange(node: NodeProcess, request: bytes) -> tuple[int, dict[str, str], bytes]:
    with connect(node) as sock:
        sock.sendall(request)
        return read_response(sock)


def assert_envelope(response: tuple[int, dict[str, str], bytes], status: int, code: str,
                    *fragments: str) -> str:
    got, headers, body = response
    assert got == status, (got, body[:300])
    assert headers.get("content-type", "").startswith("application/json"), headers
    document = json.loads(body)
    assert set(document) == {"success", "data", "error"}, document
    assert document["success"] is False and document["data"] is None
    assert set(document["error"]) == {"code", "message"} and document["error"]["code"] == code
    for fragment in fragments:
        assert fragment in document["error"]["message"], (fragment, document)
    return str(document["error"]["message"])


def closed_by_server(sock: socket.socket) -> bool:
    readable, _, _ = select.select([sock], [], [], 0)
    if not readable:
        return False
    try:
        return sock.recv(1) == b""
    except ConnectionError:
        return True


def api_process(node: NodeProcess) -> psutil.Process:
    return wait_for(lambda: node.children().get("api"), timeout=20, message="the api process")


def open_sockets(pid: int) -> int:
    """Sockets process `pid` holds (from /proc: psutil's net_connections needs
    socket.inet_ntop, which importing pysyncobj, as the API tests do, breaks in this process)."""
    count = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            count += os.readlink(fd).startswith("socket:")
        except OSError:  # closed meanwhile
            continue
    return count


def nofile_soft_limit(pid: int) -> int:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            return int(line.split()[3])
    raise AssertionError("no 'Max open files' line")


def spooled_bytes(pid: int, folder: Path) -> int:
    """Bytes in the files under `folder` that process `pid` holds open (deleted ones too:
    waitress spools bodies to unnamed temporary files)."""
    total = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            if os.readlink(fd).startswith(str(folder)):
                total += fd.stat().st_size
        except OSError:  # closed meanwhile
            continue
    return total


def timed_get(url: str, headers: dict[str, str]) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=CLIENT_TIMEOUT) as response:
        body = json.loads(response.read())
    return time.perf_counter() - started, body


# -- many slow clients -------------------------------------------------------------------------


def test_hundreds_of_idle_and_stalled_connections_leave_the_api_answering(limited_node):
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    unlimited = hard == resource.RLIM_INFINITY
    if not unlimited and hard < 2 * SLOW_CLIENTS:
        pytest.skip(f"the hard open-file limit ({hard}) is too low for this test")
    # Start with a soft limit that cannot hold the clients: the API process must raise it.
    node = limited_node((256, hard)).start()
    node.wait_leader()
    credential = node.api("POST", "/credentials")
    keys = {"x-api-key": credential["api_key"], "x-secret-key": credential["api_secret"]}
    api = api_process(node)
    # Sockets besides the slow clients; a few may be the server's side of connections the
    # calls above just closed, hence the slack below.
    baseline = open_sockets(api.pid) - 10
    slow: list[socket.socket] = []
    try:
        for i in range(SLOW_CLIENTS):
            sock = connect(node)
            slow.append(sock)
            if i % 2:
                sock.sendall(PARTIAL_HEADER)  # a header that never ends
        timed_get(node.base_url + "/healthcheck", {})  # answers within CLIENT_TIMEOUT
        wait_for(lambda: open_sockets(api.pid) >= baseline + SLOW_CLIENTS, timeout=20,
                 message=f"the api to hold {SLOW_CLIENTS} connections")
        health_times, auth_times = [], []
        for _ in range(5):
            took, health = timed_get(node.base_url + "/healthcheck", {})
            assert health["success"] is True and health["data"]["is_leader"] is True
            health_times.append(took)
            took, projects = timed_get(node.base_url + "/projects", keys)
            assert projects["success"] is True and "projects" in projects["data"]
            auth_times.append(took)
        assert not [s for s in slow if closed_by_server(s)]  # all still open
        assert open_sockets(api.pid) >= baseline + SLOW_CLIENTS
        print(f"\nwith {SLOW_CLIENTS} slow clients held: healthcheck "
              f"{', '.join(f'{t * 1000:.1f}' for t in health_times)} ms; authenticated GET "
              f"/projects {', '.join(f'{t * 1000:.1f}' for t in auth_times)} ms")
    finally:
        for sock in slow:
            sock.close()
    soft = nofile_soft_limit(api.pid)
    assert soft == hard if not unlimited else soft > 2 * SLOW_CLIENTS


def test_idle_and_stalled_connections_are_closed_after_the_channel_timeout(node_factory):
    node = node_factory(ApiChannelTimeout=2).start()
    node.wait_leader()
    with connect(node) as idle, connect(node) as stalled:
        stalled.sendall(PARTIAL_HEADER)
        for name, sock in (("idle", idle), ("stalled", stalled)):
            wait_for(lambda s=sock: closed_by_server(s), timeout=20,
                     message=f"the {name} connection to be closed by the server")
    assert node.health(detail=False)["is_leader"] is True


def test_a_hard_open_file_limit_below_the_connection_limit_lowers_it_with_a_warning(
        limited_node):
    node = limited_node((300, 300)).start()  # ApiConnectionLimit is 1000 by default
    node.wait_leader()
    wait_for(lambda: "ApiConnectionLimit 1000 needs" in node.log_text(), timeout=10,
             message="the open-file warning in the node log")
    line = next(x for x in node.log_text().splitlines() if "ApiConnectionLimit 1000" in x)
    assert "300" in line and "ulimit -Hn" in line and "holding at most" in line


# -- bodies and headers beyond the limits ------------------------------------------------------


def post_head(length: int | None = None, extra: str = "",
              content_type: str = "application/json") -> bytes:
    framing = f"Content-Length: {length}\r\n" if length is not None else ""
    return (f"POST /api/v1/projects HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Content-Type: {content_type}\r\n{framing}{extra}\r\n").encode()


def test_a_huge_declared_body_is_refused_at_the_header_and_nothing_is_spooled(node_factory,
                                                                              tmp_path):
    spool = tmp_path / "spool"
    spool.mkdir()
    node = node_factory()
    node.env["TMPDIR"] = str(spool)  # where waitress spools bodies over 512 KiB
    node.start()
    node.wait_leader()
    api = api_process(node)
    with connect(node) as sock:
        sock.sendall(post_head(300 * MIB))  # no credentials, and no body yet
        assert_envelope(read_response(sock), 413, "payload_too_large", "16 MiB",
                        "ApiMaxBodyMb")
        try:  # the server is closing: whatever the client still sends is not read
            for _ in range(64):
                sock.sendall(b"x" * 65536)
        except OSError:
            pass
        assert spooled_bytes(api.pid, spool) == 0
    assert not [p for p in spool.rglob("*") if p.is_file() and p.stat().st_size > 0]
    # The probe sees a spool when there is one: a body under the limit, half sent, waits in a
    # temporary file under TMPDIR.
    with connect(node) as control:
        control.sendall(post_head(2 * MIB) + b"x" * MIB)
        wait_for(lambda: spooled_bytes(api.pid, spool) >= MIB // 2, timeout=10,
                 message="the control body to be spooled under TMPDIR")


def test_an_oversized_chunked_body_is_refused_as_it_arrives(node_factory):
    node = node_factory().start()
    node.wait_leader()
    chunk = b"%x\r\n%s\r\n" % (65536, b"x" * 65536)
    cap = 40 * MIB  # well past the 16 MiB limit, far below waitress's own 1 GiB
    sent = 0
    with connect(node) as sock:
        sock.sendall(post_head(extra="Transfer-Encoding: chunked\r\n"))
        for _ in range(cap // 65536):
            if select.select([sock], [], [], 0)[0]:
                break  # the answer came
            try:
                sock.sendall(chunk)
            except OSError:  # the server stopped reading
                break
            sent += 65536
        assert sent < cap, "no answer after 40 MiB of chunks"
        assert_envelope(read_response(sock), 413, "payload_too_large", "16 MiB")


def test_oversized_headers_are_431_in_the_envelope(node_factory):
    node = node_factory().start()
    node.wait_leader()
    request = (b"GET /api/v1/healthcheck HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: "
               + b"a" * (64 * 1024) + b"\r\n\r\n")
    assert_envelope(exchange(node, request), 431, "headers_too_large", "KiB")


def test_requests_waitress_cannot_read_are_answered_in_the_envelope(node_factory):
    node = node_factory().start()
    node.wait_leader()
    assert_envelope(exchange(node, b"GET /api/v1/healthcheck HTTP/1.1\r\nno colon here\r\n\r\n"),
                    400, "bad_request", "bad request")
    assert_envelope(exchange(node, post_head(extra="Transfer-Encoding: gzip\r\n")), 501,
                    "not_implemented", "Transfer-Encoding")
    # A body of another type passes waitress and is the app's 415, in the same envelope.
    body = b'{"name": "typed-as-text"}'
    basic = f"Authorization: {node._auth_header()['Authorization']}\r\n"
    request = post_head(len(body), extra=basic, content_type="text/plain") + body
    assert_envelope(exchange(node, request), 415, "unsupported_media_type", "application/json")


# -- the health check on a real node -----------------------------------------------------------


def test_public_health_is_minimal_and_the_detail_needs_the_node_secrets(node_factory):
    node = node_factory().start()
    node.wait_leader()
    schemas = openapi.DOCUMENT["components"]["schemas"]
    public = node.health(detail=False)
    assert set(public) == set(schemas["Health"]["properties"])
    assert public["healthy"] is True and public["state"] == "leader"
    detail = wait_for(lambda: (h := node.health()) and "planner" in h and h,
                      message="the detailed health")
    assert set(schemas["HealthDetail"]["required"]) <= set(detail)
    assert set(detail) <= set(schemas["HealthDetail"]["properties"]), (
        set(detail) - set(schemas["HealthDetail"]["properties"]))
    assert {"planner", "executors", "intake", "peers"} <= set(detail)
