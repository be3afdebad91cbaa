"""Unauthenticated traffic is cheap to refuse: idle, slow and oversized connections are bounded,
and a crowd of idle sockets never locks out PostHog, with `serve`'s own server."""

from __future__ import annotations

import json
import resource
import socket
import time
from collections.abc import Iterator

import pytest

from bot.config.signals_file import load_signals
from testkit.examples import EXAMPLE_SIGNALS
from testkit.processes import ServerProcess, process_spec
from testkit.slack import FakeSlack
from testkit.webhook_bodies import WEBHOOK_SECRET, activation
from tests.conftest import fast_tuning, make_settings, serve


def _connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=5)
    return sock


def _answer(sock: socket.socket, timeout: float = 5.0) -> bytes:
    """Everything the server sends until it closes the connection (or `timeout`)."""
    sock.settimeout(timeout)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except (TimeoutError, ConnectionResetError):
        pass
    return data


def _webhook_head(length: int, authorization: str | None = f"Bearer {WEBHOOK_SECRET}") -> bytes:
    auth = f"Authorization: {authorization}\r\n" if authorization else ""
    return (
        f"POST /posthog/webhook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{auth}"
        f"Content-Length: {length}\r\n\r\n"
    ).encode()


@pytest.fixture(scope="module")
def app(tmp_path_factory) -> Iterator:
    example_config = load_signals(EXAMPLE_SIGNALS)
    url = f"sqlite:///{tmp_path_factory.mktemp('connections') / 'signals.db'}"
    with FakeSlack() as slack:
        tuning = fast_tuning(head_timeout_s=0.5, body_timeout_s=0.5)
        with serve(make_settings(url, slack), example_config, tuning) as running:
            yield running


def test_a_head_trickled_in_slowly_is_cut_off(app):
    sock = _connect(app.url)
    started = time.monotonic()
    sock.sendall(b"POST /posthog/webhook HTTP/1.1\r\nHost: x\r\n")
    for _ in range(3):
        time.sleep(0.2)
        try:
            sock.sendall(b"X-Slow: 1\r\n")
        except OSError:
            break
    answer = _answer(sock)
    assert answer.startswith(b"HTTP/1.1 408")
    assert time.monotonic() - started < 2.0


def test_a_socket_that_never_speaks_is_closed(app):
    sock = _connect(app.url)
    started = time.monotonic()
    assert _answer(sock) == b""
    assert time.monotonic() - started < 2.0


def test_an_oversized_head_is_431(app):
    sock = _connect(app.url)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"X-Big: " + b"a" * 40_000 + b"\r\n\r\n")
    assert _answer(sock).startswith(b"HTTP/1.1 431")


def test_a_body_sent_too_slowly_is_408_and_closed(app):
    sock = _connect(app.url)
    sock.sendall(_webhook_head(1000) + b'{"event": ')
    started = time.monotonic()
    answer = _answer(sock)
    assert answer.startswith(b"HTTP/1.1 408")
    assert b"connection: close" in answer.lower()
    assert time.monotonic() - started < 2.0


def test_a_webhook_without_credential_is_refused_before_its_body_is_read(app):
    """The 401 comes back while the client has sent 200 MB of nothing: the body is never read."""
    sock = _connect(app.url)
    sock.sendall(_webhook_head(200 * 1024 * 1024, authorization=None) + b"x" * 1000)
    answer = _answer(sock)
    assert answer.startswith(b"HTTP/1.1 401")
    assert b"connection: close" in answer.lower()


def test_keep_alive_still_works(app):
    body = json.dumps(activation("keepalive.example")).encode()
    sock = _connect(app.url)
    for _ in range(3):
        sock.sendall(_webhook_head(len(body)) + body)
        sock.settimeout(5)
        assert sock.recv(65536).startswith(b"HTTP/1.1 202")
    sock.close()


def _fd_limit(limit: int):
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))

    return apply


def test_idle_sockets_past_the_descriptor_limit_do_not_lock_out_posthog(sqlite_url, fake_slack, tmp_path):
    """`ulimit -n 256`: 400 sockets that connect and say nothing; PostHog's delivery still gets its
    202, the idle ones are closed to make room, and the server says so in its log."""
    spec = process_spec(sqlite_url, fake_slack.api_url, EXAMPLE_SIGNALS)
    spec["settings"]["log_level"] = "WARNING"
    server = ServerProcess(spec, tmp_path / "tmp", preexec_fn=_fd_limit(256))
    server.start()
    idle: list[socket.socket] = []
    try:
        for _ in range(400):
            idle.append(_connect(server.url))
        time.sleep(0.3)
        statuses = [server.post(activation(f"co{i}.example.com")).status_code for i in range(5)]
        assert statuses == [202] * 5
        closed = 0
        for sock in idle:
            sock.setblocking(False)
            try:
                closed += sock.recv(1) == b""
            except BlockingIOError:
                pass
            except OSError:
                closed += 1
        assert closed >= 400 - 256
    finally:
        for sock in idle:
            sock.close()
        log = server.kill()
    assert "connections bounded" in log
