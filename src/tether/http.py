"""A small client of OpenAI-compatible servers, used by the openai engine and the LLM judge.

It only moves JSON: POST with a concurrency limit, transient failures (429, 5xx, timeouts,
dropped connections) retried with exponential backoff and jitter, and permanent ones (a bad key,
an unknown model, a wrong URL) turned into one clear `ServerError` line. What to send and how to
read the answer belongs to its callers.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from tether.errors import TetherError

RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


class ServerError(TetherError):
    """A server answer that no retry will fix (bad key, unknown model, wrong URL)."""


class TransientError(Exception):
    """A request that kept failing in ways a retry might fix (after every retry was spent)."""


@dataclass
class OpenAIClient:
    """Where the server is and how patiently to talk to it."""

    base_url: str
    model: str
    api_key: str | None = None
    concurrency: int = 16
    max_retries: int = 5
    timeout: float = 120.0  # seconds per request
    backoff: float = 0.5
    headers: dict = field(init=False)

    def __post_init__(self) -> None:
        self.base_url = self.base_url.rstrip("/")
        self.headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    def session(self) -> httpx.AsyncClient:
        """An async HTTP session with at most `concurrency` connections."""
        limits = httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency)
        return httpx.AsyncClient(base_url=self.base_url, headers=self.headers, timeout=self.timeout, limits=limits)

    async def post(self, session: httpx.AsyncClient, path: str, body: dict,
                   check: Callable[[dict], None] | None = None) -> dict:
        """POST with retries on transient failures; ServerError on permanent ones.

        An answer that is not a JSON object, or that `check` rejects (raising TransientError: a
        choice without text, too few choices), is retried like a server error: a malformed answer
        is never returned."""
        for attempt in range(self.max_retries + 1):
            try:
                response = await session.post(path, json=body)
                if response.status_code in RETRY_STATUS:
                    raise TransientError(f"HTTP {response.status_code}: {reason(response)}")
                if response.status_code >= 400:
                    raise ServerError(permanent_error(response, self.base_url + path, self.model))
                try:
                    data = response.json()
                except ValueError:
                    raise TransientError(f"HTTP {response.status_code} with a body that is not JSON: "
                                         f"{response.text[:80]!r}") from None
                if not isinstance(data, dict):
                    raise TransientError(f"a JSON answer that is not an object: {type(data).__name__}")
                if check is not None:
                    check(data)
                return data
            except (TransientError, httpx.TimeoutException, httpx.TransportError) as exc:
                if attempt == self.max_retries:
                    raise TransientError(f"{str(exc) or type(exc).__name__} (after {self.max_retries + 1} attempts)") from None
                delay = min(30.0, self.backoff * 2**attempt) * (0.5 + random.random())
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    def chat(self, conversations: list[list[dict]], temperature: float = 0.0, max_tokens: int = 16
             ) -> list[tuple[str | None, str | None]]:
        """(reply text, None) or (None, error) per conversation, in order, `concurrency` at a time;
        a permanent failure (`ServerError`: bad key, unknown model) stops the whole call."""
        return asyncio.run(self._chat_all(conversations, temperature, max_tokens))

    async def _chat_all(self, conversations, temperature: float, max_tokens: int):
        limit = asyncio.Semaphore(self.concurrency)
        async with self.session() as session:

            async def one(messages):
                body = {"model": self.model, "messages": messages, "temperature": temperature,
                        "max_tokens": max_tokens, "n": 1}
                async with limit:
                    try:
                        data = await self.post(session, "/chat/completions", body)
                    except TransientError as exc:
                        return None, str(exc)
                choices = data.get("choices") or [{}]
                return (choices[0].get("message") or {}).get("content") or "", None

            return list(await asyncio.gather(*(one(m) for m in conversations)))


def reason(response: httpx.Response) -> str:
    """The server's own words for a failed response, shortened."""
    try:
        payload = response.json()
        error = payload.get("error", payload)
        message = (error.get("message") or error.get("detail")) if isinstance(error, dict) else str(error)
        return str(message or payload)[:300]
    except (ValueError, AttributeError):
        return response.text[:300] or response.reason_phrase


def permanent_error(response: httpx.Response, url: str, model: str) -> str:
    """One line saying what is wrong with a request no retry will fix."""
    status = response.status_code
    if status == 401 or status == 403:
        return (f"{url}: HTTP {status} unauthorized; check the API key (-o api_key=KEY or OPENAI_API_KEY; a judge's: "
                "--judge-api-key)")
    text = reason(response)
    if status in (400, 404) and "model" in text.lower():
        return f"{url}: unknown model {model!r}: {text}"
    if status == 404:
        return f"{url}: HTTP 404 not found; is the base URL right (it usually ends in /v1)?"
    return f"{url}: HTTP {status}: {text}"
