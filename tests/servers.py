"""Real servers for the tests: started once per session on 127.0.0.1, stopped at the end."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """A server process whose OpenAI-compatible API lives at `base_url`."""

    def __init__(self, name: str, command: list[str], port: int, log: Path, env: dict | None = None):
        self.name, self.port, self.log = name, port, log
        self.base_url = f"http://127.0.0.1:{port}/v1"
        self.handle = open(log, "w")
        self.process = subprocess.Popen(
            command, stdout=self.handle, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})},
            start_new_session=True,
        )

    def wait(self, timeout: float) -> Server:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}; log:\n{self.tail()}")
            try:
                httpx.get(self.base_url.removesuffix("/v1") + "/health", timeout=2)  # any HTTP answer: it is up
                return self
            except httpx.HTTPError:
                time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"{self.name} did not start in {timeout:.0f} s; log:\n{self.tail()}")

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.handle.close()


VLLM_API_KEY = "tether-test-key"


def vllm_server(model: Path, log: Path) -> Server:
    """vLLM's OpenAI server (CPU build) guarded by an API key, so a missing key is a real 401."""
    port = free_port()
    command = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(model),
               "--host", "127.0.0.1", "--port", str(port), "--enforce-eager", "--dtype", "float32",
               "--max-model-len", "2048", "--api-key", VLLM_API_KEY]
    env = {"VLLM_CPU_KVCACHE_SPACE": "1", "HF_HUB_OFFLINE": "1", "VLLM_NO_USAGE_STATS": "1", "DO_NOT_TRACK": "1"}
    return Server("vllm", command, port, log, env).wait(240)


def transformers_server(model: Path, log: Path) -> Server:
    port = free_port()
    executable = str(Path(sys.executable).with_name("transformers"))
    command = [executable, "serve", str(model), "--host", "127.0.0.1", "--port", str(port)]
    return Server("transformers serve", command, port, log, {"HF_HUB_OFFLINE": "1"}).wait(120)
