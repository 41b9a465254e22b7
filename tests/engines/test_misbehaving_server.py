"""The openai engine against a real local server that misbehaves: garbage is retried, never stored,
and a server that stays broken is one clear failure, not a traceback."""

import http.server
import json
import threading
import time

import pytest

from tether.engines import Decoding, Request
from tether.engines.openai_engine import OpenAICompatibleEngine, ServerError

GOOD = {"choices": [{"text": "fine", "finish_reason": "stop"}], "usage": {"completion_tokens": 1}}
BAD = {  # what some servers send with status 200
    "html": (b"<html><body>502 Bad Gateway</body></html>", "text/html"),
    "malformed": (b'{"choices": [', "application/json"),
    "list": (b"[]", "application/json"),
    "null text": (json.dumps({"choices": [{"text": None}]}).encode(), "application/json"),
    "no choices": (json.dumps({"choices": []}).encode(), "application/json"),
}


class Server:
    """Answers the first `bad` POSTs with `kind`, then well (or never well: bad = a large number)."""

    def __init__(self, kind: str, bad: int, hang: float = 0.0):
        self.kind, self.bad, self.hang, self.posts = kind, bad, hang, 0
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                self._send(json.dumps({"data": [{"id": "m"}]}).encode(), "application/json")

            def do_POST(self):
                self.rfile.read(int(self.headers["Content-Length"]))
                owner.posts += 1
                if owner.hang:
                    time.sleep(owner.hang)
                if owner.posts <= owner.bad:
                    self._send(*BAD[owner.kind])
                else:
                    self._send(json.dumps(GOOD).encode(), "application/json")

            def _send(self, body: bytes, kind: str):
                try:
                    self.send_response(200)
                    self.send_header("content-type", kind)
                    self.send_header("content-length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):  # the client timed out and left
                    pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


def _requests():
    return [Request("a", "1+1=", (1,), Decoding(0.0, 1.0, 4))]


@pytest.mark.parametrize("kind", sorted(BAD))
def test_a_bad_answer_is_retried_and_never_stored(kind):
    server = Server(kind, bad=2)
    try:
        engine = OpenAICompatibleEngine("m", server.base_url, backoff=0.01, max_retries=4)
        engine._checked = True  # the request path itself (the seed probes are tested below)
        [result] = list(engine.generate(_requests()))
        assert result.ok and [c.text for c in result.completions] == ["fine"] and server.posts == 3
    finally:
        server.close()


@pytest.mark.parametrize("kind", sorted(BAD))
def test_a_server_that_stays_broken_fails_each_request_in_one_line(kind):
    server = Server(kind, bad=10**6)
    try:
        engine = OpenAICompatibleEngine("m", server.base_url, backoff=0.01, max_retries=2)
        engine._checked = True
        [result] = list(engine.generate(_requests()))
        assert not result.ok and result.completions == [] and "after 3 attempts" in result.error
        with pytest.raises(ServerError, match="the first requests failed"):  # the check before a run
            list(OpenAICompatibleEngine("m", server.base_url, backoff=0.01, max_retries=1).generate(_requests()))
    finally:
        server.close()


def test_a_server_that_hangs_times_out_and_is_retried():
    server = Server("html", bad=0, hang=1.5)
    try:
        engine = OpenAICompatibleEngine("m", server.base_url, backoff=0.01, max_retries=1, timeout=0.5)
        engine._checked = True
        started = time.monotonic()
        [result] = list(engine.generate(_requests()))
        assert not result.ok and "ReadTimeout" in result.error and time.monotonic() - started < 10
    finally:
        server.close()
