"""`OpenAICompatibleEngine`: sampling and scoring through any OpenAI-compatible server.

Works with vLLM serve, SGLang, llama.cpp, TGI and `transformers serve` over
``/v1/completions`` (text prompts) or ``/v1/chat/completions`` (messages).

Servers differ, so the engine checks what comes back instead of trusting it:

- By default every sample is its own request with its own seed (``n=1``), the
  only layout that gives each sample a reproducible seed on every server.
  With ``n_per_request > 1`` a probe first checks that the server returns n
  distinct choices (llama.cpp and `transformers serve` return one choice
  whatever n is asked); if not, it falls back to one request per sample and
  says so. Every response's choice count is checked again.
- A probe sends the same seeded request twice; a server that ignores seeds is
  reported (``seed_reproducible: false`` in `describe`), not silently trusted.
- 429, 5xx, timeouts and dropped connections are retried with exponential
  backoff; a request that still fails becomes a `Result` with an error. 401,
  404 and an unknown model stop the run with one clear line.
- `score` uses ``echo`` + ``logprobs``: per-token log-probs are exact, entropies
  are over the returned top-k only (a lower bound, flagged as approximate).
  Echoed log-probs that are shifted by one token (llama.cpp) are refused.
"""

from __future__ import annotations

import asyncio
import json
import queue
import threading
from collections.abc import Iterator, Sequence
from typing import Annotated

import httpx
import numpy as np
from pydantic import Field

from tether.engines import vision
from tether.engines.base import TEMPLATE, Completion, Decoding, Request, Result, SequenceScores, TokenScores
from tether.errors import InputError
from tether.http import OpenAIClient, ServerError, permanent_error
from tether.http import TransientError as _Retryable
from tether.tasks.prompts import render_prompt
from tether.tasks.task import Messages

_DONE = object()


class OpenAICompatibleEngine:
    """An OpenAI-compatible HTTP server."""

    name = "openai"

    def __init__(
        self,
        model: str,
        # the options: `tether engines openai` lists them with these meanings
        base_url: Annotated[str, Field(description="The server's URL, e.g. http://127.0.0.1:8000/v1.")],
        *,
        api: Annotated[str, Field(description="auto (chat for message prompts, unless a tokenizer or template "
                                              "plain renders them; else completions), completions or chat.")] = "auto",
        api_key: Annotated[str | None, Field(description="The server's API key.",
                                             json_schema_extra={"env": "OPENAI_API_KEY"})] = None,
        concurrency: Annotated[int, Field(ge=1, description="Requests in flight.")] = 16,
        max_retries: Annotated[int, Field(ge=0, description="Retries of a failed request (429, 5xx, a timeout, "
                                                            "an unusable answer) before its unit fails.")] = 5,
        timeout: Annotated[float, Field(gt=0, description="Seconds per request before it is retried.")] = 120.0,
        n_per_request: Annotated[int, Field(ge=1, description="Samples per request, checked against the server "
                                                              "(one request per sample where it cannot).")] = 1,
        tokenizer: Annotated[str | None, Field(description="A tokenizer (path or hub id) whose chat template "
                                                           "renders prompts locally.")] = None,
        template: Annotated[str, Field(description=TEMPLATE)] = "auto",
        backoff: Annotated[float, Field(ge=0, description="Seconds before the first retry, doubled at each "
                                                          "next one.")] = 0.5,
    ):
        if api not in ("auto", "completions", "chat"):
            raise InputError(f"api must be auto, completions or chat, got {api!r}")
        self.http = OpenAIClient(base_url, model, api_key, concurrency, max_retries, timeout, backoff)
        self.model, self.base_url, self.api, self.concurrency = model, self.http.base_url, api, concurrency
        self.n_per_request, self.template = max(1, n_per_request), template
        self.tokenizer = _load_tokenizer(tokenizer) if tokenizer else None
        self.warnings: list[str] = []
        self.seed_reproducible: bool | None = None
        self._checked = False

    # -- protocol ------------------------------------------------------------------

    def render(self, prompt: str | Messages) -> str:
        if self._endpoint(prompt) == "chat":
            return json.dumps(_messages(prompt), ensure_ascii=False)
        return render_prompt(prompt, self.tokenizer, self.template)

    def describe(self) -> dict:
        return {
            "engine": self.name,
            "model": self.model,
            "base_url": self.base_url,
            "api": self.api,
            "template": self.template,
            "n_per_request": self.n_per_request,
            "seed_reproducible": self.seed_reproducible,
        }

    def generate(self, requests: Sequence[Request]) -> Iterator[Result]:
        if not self._checked:
            self._run(self._check_server(requests[0] if requests else None))
            self._checked = True
        yield from self._stream(self._generate_all(list(requests)))

    def score(self, prompts: Sequence[str | Messages], completions: Sequence[str]) -> list[TokenScores]:
        vision.refuse_images(prompts)
        return self._run(self._score_all(list(prompts), list(completions)))

    def sequence_scores(self, prompts: Sequence[str | Messages], completions: Sequence[str], decoding: Decoding,
                        ends: Sequence[bool]) -> list[SequenceScores]:
        """Token log-probabilities from the server's echoed prompt log-probabilities: those of the raw
        model, so exact only at temperature 1 and top_p 1 (a server's top-k log-probabilities can neither
        renormalise a tempered distribution nor decide the nucleus); the end-of-sequence token is scored
        through its text, which needs the model's tokenizer (`tokenizer`)."""
        vision.refuse_images(prompts)
        if decoding.temperature != 1 or decoding.top_p < 1:
            raise InputError(f"an OpenAI-compatible server's echoed log-probabilities are the raw model's; scoring at "
                             f"temperature {decoding.temperature:g} and top_p {decoding.top_p:g} needs the whole "
                             "next-token distribution: score with the transformers or vllm engine (full_logprobs)")
        if any(ends) and self.tokenizer is None:
            raise InputError("scoring a completion that ended on the end-of-sequence token through a server needs the "
                             "model's tokenizer (-o tokenizer=…) to write that token")
        eos = self.tokenizer.eos_token if self.tokenizer is not None else ""
        texts = [c + (eos if ended else "") for c, ended in zip(completions, ends)]
        return self._run(self._score_all(list(prompts), texts, sequence=True))

    def close(self) -> None:
        return None

    # -- async plumbing --------------------------------------------------------------

    def _run(self, coroutine):
        return asyncio.run(coroutine)

    def _stream(self, agen) -> Iterator[Result]:
        """Run an async generator in a thread; yield its items here as they come."""
        items: queue.Queue = queue.Queue()

        async def pump():
            try:
                async for item in agen:
                    items.put(item)
            except BaseException as exc:  # handed to the consumer below
                items.put(exc)
            finally:
                items.put(_DONE)

        thread = threading.Thread(target=lambda: asyncio.run(pump()), daemon=True)
        thread.start()
        while (item := items.get()) is not _DONE:
            if isinstance(item, BaseException):
                raise item
            yield item
        thread.join()

    def _client(self) -> httpx.AsyncClient:
        return self.http.session()

    async def _post(self, client: httpx.AsyncClient, path: str, body: dict, check=None) -> dict:
        return await self.http.post(client, path, body, check)

    # -- checks ------------------------------------------------------------------------

    async def _check_server(self, example: Request | None) -> None:
        async with self._client() as client:
            try:
                response = await client.get("/models")
            except httpx.TransportError as exc:
                raise ServerError(f"cannot reach {self.base_url}: {str(exc) or type(exc).__name__}") from None
            if response.status_code in (401, 403, 404):
                raise ServerError(permanent_error(response, self.base_url + "/models", self.model))
            offered = []
            if response.status_code < 400:
                offered = _model_ids(response)
            else:  # e.g. `transformers serve` offline answers 500 here; the first request will tell
                self.warnings.append(f"{self.base_url}/models answered HTTP {response.status_code}; model not checked")
            if offered and self.model not in offered:
                raise ServerError(f"{self.base_url} does not serve model {self.model!r}; it offers: {', '.join(offered)}")
            if example is None:
                return
            # a short prompt of the same kind (text or chat): the run's own prompts may be the ones that fail
            probe = "Once upon a time" if isinstance(example.prompt, str) else [{"role": "user", "content": "Tell a story."}]
            try:
                await self._probe(client, probe, example.decoding)
            except _Retryable as exc:
                raise ServerError(f"{self.base_url}: the first requests failed: {exc}") from None

    async def _probe(self, client: httpx.AsyncClient, prompt, decoding: Decoding) -> None:
        probe = Decoding(temperature=max(decoding.temperature, 1.0), top_p=1.0, max_tokens=16)
        twice = [await self._call(client, prompt, probe, 1, 12345) for _ in range(2)]
        self.seed_reproducible = twice[0][0].text == twice[1][0].text
        if not self.seed_reproducible:
            self.warnings.append(f"{self.base_url} ignores the seed: samples will not be reproducible")
        if self.n_per_request > 1:
            choices = await self._call(client, prompt, probe, 2, 54321, check_count=False)
            if len(choices) != 2 or choices[0].text == choices[1].text:
                what = f"{len(choices)} choice(s)" if len(choices) != 2 else "two identical choices"
                self.warnings.append(
                    f"{self.base_url} returned {what} for n=2 under one seed; sending one request per sample instead"
                )
                self.n_per_request = 1

    # -- generation --------------------------------------------------------------------

    async def _generate_all(self, requests: list[Request]):
        limit = asyncio.Semaphore(self.concurrency)
        async with self._client() as client:
            tasks = [asyncio.create_task(self._one_request(client, limit, r)) for r in requests]
            try:
                for finished in asyncio.as_completed(tasks):
                    yield await finished
            finally:
                for task in tasks:
                    task.cancel()

    async def _one_request(self, client, limit: asyncio.Semaphore, request: Request) -> Result:
        size = self.n_per_request
        chunks = [request.seeds[i : i + size] for i in range(0, request.n, size)]

        async def run(seeds: tuple[int, ...]) -> list[Completion]:
            async with limit:
                return await self._call(client, request.prompt, request.decoding, len(seeds), seeds[0],
                                        images=request.images)

        try:
            parts = await asyncio.gather(*(run(chunk) for chunk in chunks))
        except _Retryable as exc:
            return Result(request, error=str(exc))
        except ServerError as exc:
            return Result(request, error=str(exc))
        return Result(request, [c for part in parts for c in part])

    async def _call(self, client, prompt, decoding: Decoding, n: int, seed: int, check_count: bool = True,
                    images: Sequence = ()):
        endpoint = self._endpoint(prompt)
        body = {"model": self.model, "n": n, "seed": seed, "temperature": decoding.temperature,
                "top_p": decoding.top_p, "max_tokens": decoding.max_tokens}
        if decoding.stop:
            body["stop"] = list(decoding.stop)
        chat = endpoint == "chat"
        if chat:  # image parts as data URLs (tether.engines.vision)
            body["messages"] = vision.openai_messages(prompt, images)
        else:
            body["prompt"] = self.render(prompt)

        def check(data: dict) -> None:  # a malformed answer is retried, never stored
            choices = data.get("choices")
            if not isinstance(choices, list) or not all(isinstance(c, dict) for c in choices):
                raise _Retryable("the answer has no list of choices")
            if check_count and len(choices) != n:
                raise _Retryable(f"asked for {n} choices, server returned {len(choices)}")
            if any(not isinstance(_text(c, chat), str) for c in choices):
                raise _Retryable("a choice without text (null)")

        data = await self._post(client, "/chat/completions" if chat else "/completions", body, check)
        choices = data["choices"]
        texts = [_text(c, chat) for c in choices]
        tokens = (data.get("usage") or {}).get("completion_tokens") if n == 1 else None
        return [
            Completion(text, tokens, choice.get("finish_reason") or "stop", seed)  # n > 1: the request's seed
            for text, choice in zip(texts, choices)
        ]

    def _endpoint(self, prompt) -> str:
        if vision.has_images(prompt):  # images go as chat image parts only
            if self.api == "completions":
                raise InputError("a prompt with images needs /v1/chat/completions: -o api=chat (or auto)")
            return "chat"
        if self.api != "auto":
            if self.api == "completions" and not isinstance(prompt, str) and self.tokenizer is None:
                if self.template != "plain":
                    raise InputError("chat prompts on /v1/completions need -o tokenizer=… (for its chat template), "
                                     "--template plain, or -o api=chat")
            return self.api
        return "chat" if not isinstance(prompt, str) and self.tokenizer is None and self.template != "plain" else "completions"

    # -- scoring -----------------------------------------------------------------------

    async def _score_all(self, prompts: list, completions: list[str], sequence: bool = False) -> list:
        limit = asyncio.Semaphore(self.concurrency)
        async with self._client() as client:

            async def one(prompt, completion):
                async with limit:
                    return await self._score_one(client, self.render(prompt), completion, sequence=sequence)

            return list(await asyncio.gather(*(one(p, c) for p, c in zip(prompts, completions))))

    async def _score_one(self, client, prompt_text: str, completion: str, top_k: int = 20,
                         sequence: bool = False) -> TokenScores | SequenceScores:
        if self._endpoint(prompt_text) == "chat":
            raise InputError("scoring needs /v1/completions: pass -o tokenizer=… or --template plain")
        body = {"model": self.model, "prompt": prompt_text + completion, "max_tokens": 1, "echo": True,
                "logprobs": top_k, "temperature": 0.0}
        try:
            data = await self._post(client, "/completions", body)
        except _Retryable as exc:
            raise ServerError(f"scoring failed: {exc}") from None
        logprobs = (data.get("choices") or [{}])[0].get("logprobs")
        if not logprobs or not logprobs.get("token_logprobs"):
            raise ServerError(f"{self.base_url} returned no logprobs for echo=true; scoring needs a server that does (e.g. vLLM)")
        span = (len(prompt_text), len(prompt_text) + len(completion))
        return _echo_sequence(logprobs, *span) if sequence else _echo_scores(logprobs, *span)


def _echo_sequence(logprobs: dict, start: int, end: int) -> SequenceScores:
    """The completion's tokens and their echoed log-probabilities (the server's tokens; ids are not echoed)."""
    scores = _echo_scores(logprobs, start, end)
    offsets, tokens = logprobs["text_offset"], logprobs.get("tokens") or []
    picked = [i for i, offset in enumerate(offsets) if start <= offset < end and logprobs["token_logprobs"][i] is not None]
    return SequenceScores(scores.logprobs, tuple(tokens[i] if i < len(tokens) else "" for i in picked), ())


def _echo_scores(logprobs: dict, start: int, end: int) -> TokenScores:
    """Scores of the tokens whose text starts in [start, end), from echoed log-probs."""
    token_lp, offsets, tops = logprobs["token_logprobs"], logprobs.get("text_offset"), logprobs.get("top_logprobs")
    if token_lp[0] is not None:
        raise ServerError("the server's echoed log-probs are shifted by one token (llama.cpp does this); "
                          "refusing to score with them")
    if offsets is None:
        raise ServerError("the server returned no text offsets with its log-probs; cannot locate the completion")
    picked = [i for i, offset in enumerate(offsets) if start <= offset < end and token_lp[i] is not None]
    values = np.array([token_lp[i] for i in picked], dtype=float)
    entropies = []
    for i in picked:
        top = np.array(list((tops[i] or {}).values()) if tops else [], dtype=float)
        entropies.append(float(-(np.exp(top) * top).sum()) if top.size else float("nan"))
    return TokenScores(values, np.array(entropies), exact_entropy=False)


def _model_ids(response: httpx.Response) -> list[str]:
    """The model names a /models answer lists (none when it is not the usual shape)."""
    try:
        data = response.json().get("data", [])
        return [m.get("id") for m in data if isinstance(m, dict)]
    except (ValueError, AttributeError):
        return []


def _text(choice: dict, chat: bool):
    return (choice.get("message") or {}).get("content") if chat else choice.get("text")


def _messages(prompt) -> Messages:
    return [{"role": "user", "content": prompt}] if isinstance(prompt, str) else list(prompt)


def _load_tokenizer(name: str):
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(name)
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot load tokenizer {name!r}: {str(exc).splitlines()[0]}") from None
