"""OpenAICompatibleEngine against real local servers: vLLM's CPU build and `transformers serve`."""

import http.server
import threading

import httpx
import numpy as np
import pytest

from tether.engines import Decoding, Request, derive_seed
from tether.engines.openai_engine import OpenAICompatibleEngine, ServerError
from tether.engines.transformers_engine import TransformersEngine
from tether.errors import InputError

from ..servers import VLLM_API_KEY

DECODING = Decoding(temperature=0.8, top_p=0.95, max_tokens=12)


def requests(n=3):
    return [Request(f"r{j}", f"Count from {j} to {j + 5}:", tuple(derive_seed(7, j, i) for i in range(n)), DECODING)
            for j in range(2)]


def engine_for(server, model, **options):
    if server.name == "vllm":
        options.setdefault("api_key", VLLM_API_KEY)
    return OpenAICompatibleEngine(str(model), server.base_url, **options)


def test_vllm_one_request_per_sample_is_reproducible(vllm_server, smollm2):
    engine = engine_for(vllm_server, smollm2, concurrency=4)
    first = {r.request.key: r for r in engine.generate(requests())}
    assert all(r.ok and len(r.completions) == 3 for r in first.values())
    assert engine.seed_reproducible is True and engine.describe()["seed_reproducible"] is True
    for result in first.values():
        for completion in result.completions:
            assert completion.text and 1 <= completion.n_tokens <= 12 and completion.finish_reason in ("stop", "length")
        assert len({c.text for c in result.completions}) > 1
    again = {r.request.key: r for r in engine.generate(requests())}
    assert again == first


def test_vllm_n_per_request_is_used_when_the_server_honours_it(vllm_server, smollm2):
    engine = engine_for(vllm_server, smollm2, n_per_request=4)
    results = list(engine.generate(requests(n=6)))
    assert engine.n_per_request == 4 and not engine.warnings
    assert all(len(r.completions) == 6 for r in results)


def test_vllm_chat_endpoint_for_messages(vllm_server, smollm2):
    engine = engine_for(vllm_server, smollm2)
    messages = [{"role": "system", "content": "Answer briefly."}, {"role": "user", "content": "What is 2+3?"}]
    assert engine.render(messages).startswith('[{"role": "system"')
    result = next(engine.generate([Request("c", messages, (1, 2), DECODING)]))
    assert result.ok and all(c.text for c in result.completions)


def test_transformers_serve_single_choice_is_detected_and_compensated(transformers_server, smollm2):
    engine = engine_for(transformers_server, smollm2, n_per_request=4)
    results = list(engine.generate(requests(n=4)))
    assert engine.n_per_request == 1
    assert any("1 choice(s) for n=2" in w for w in engine.warnings)
    assert all(r.ok and len(r.completions) == 4 for r in results)


def test_scores_from_vllm_match_the_local_model(vllm_server, smollm2):
    engine = engine_for(vllm_server, smollm2, template="plain")
    local = TransformersEngine(smollm2, template="plain")
    prompt, completion = "The capital of France is", " Paris, a city on the Seine."
    remote = engine.score([prompt], [completion])[0]
    exact = local.score([prompt], [completion])[0]
    assert not remote.exact_entropy
    assert remote.logprobs == pytest.approx(exact.logprobs, abs=2e-3)
    assert np.all(remote.entropies <= exact.entropies + 1e-3)  # top-k entropy is a lower bound
    raw = Decoding(temperature=1.0, top_p=1.0)
    with_tokenizer = engine_for(vllm_server, smollm2, template="plain", tokenizer=str(smollm2))
    served = with_tokenizer.sequence_scores([prompt], [completion], raw, [True])[0]  # the EOS token scored too
    mine = local.sequence_scores([prompt], [completion], raw, [True])[0]
    assert served.logprobs == pytest.approx(mine.logprobs, abs=1e-3) and served.tokens[-1] == mine.tokens[-1]
    with pytest.raises(InputError, match="needs the model's tokenizer"):
        engine.sequence_scores([prompt], [completion], raw, [True])
    with pytest.raises(InputError, match="echoed log-probabilities are the raw model's; scoring at temperature 0.6"):
        engine.sequence_scores([prompt], [completion], Decoding(temperature=0.6), [False])


def test_servers_without_logprobs_are_refused_for_scoring(transformers_server, smollm2):
    engine = engine_for(transformers_server, smollm2, template="plain")
    with pytest.raises(ServerError, match="no logprobs"):
        engine.score(["Hello"], [" world"])


def test_unknown_model_wrong_key_and_wrong_url_are_one_clear_line(vllm_server, transformers_server, smollm2):
    with pytest.raises(ServerError, match="does not serve model 'nope'; it offers"):
        list(engine_for(vllm_server, "nope").generate(requests()))
    with pytest.raises(ServerError, match="unknown model 'nope'"):
        list(engine_for(transformers_server, "nope").generate(requests()))
    with pytest.raises(ServerError, match="HTTP 401 unauthorized; check the API key"):
        list(OpenAICompatibleEngine(str(smollm2), vllm_server.base_url).generate(requests()))
    wrong = OpenAICompatibleEngine("m", vllm_server.base_url.removesuffix("/v1") + "/api", api_key=VLLM_API_KEY)
    with pytest.raises(ServerError, match="404 not found; is the base URL right"):
        list(wrong.generate(requests()))
    with pytest.raises(ServerError, match="cannot reach"):
        list(OpenAICompatibleEngine("m", "http://127.0.0.1:9/v1").generate(requests()))


class FlakyProxy:
    """A real HTTP proxy to a server that answers 503 to the first `failures` POSTs."""

    def __init__(self, target: str, failures: int):
        self.target, self.failures, self.posts = target, failures, 0
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                headers = {"authorization": self.headers.get("authorization", "")}
                self._forward(httpx.get(proxy.target + self.path, headers=headers, timeout=60))

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                proxy.posts += 1
                if proxy.posts <= proxy.failures:
                    self.send_response(503)
                    self.end_headers()
                    self.wfile.write(b'{"error": {"message": "overloaded"}}')
                    return
                headers = {"content-type": "application/json", "authorization": self.headers["authorization"]}
                self._forward(httpx.post(proxy.target + self.path, content=body, headers=headers, timeout=120))

            def _forward(self, response):
                self.send_response(response.status_code)
                self.send_header("content-type", "application/json")
                self.end_headers()
                self.wfile.write(response.content)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


def test_retries_with_backoff_then_gives_up(vllm_server, smollm2):
    root = vllm_server.base_url.removesuffix("/v1")
    proxy = FlakyProxy(root, failures=3)
    try:
        engine = OpenAICompatibleEngine(str(smollm2), proxy.base_url, max_retries=4, backoff=0.01, api_key=VLLM_API_KEY)
        results = list(engine.generate(requests(n=1)))
        assert all(r.ok for r in results)
        assert proxy.posts >= 3 + 2 + 2  # three refused, the two seed probes, the two requests
        proxy.failures = proxy.posts + 100
        engine = OpenAICompatibleEngine(str(smollm2), proxy.base_url, max_retries=2, backoff=0.01, api_key=VLLM_API_KEY)
        engine._checked = True  # the probes would fail too; test the request path
        failed = list(engine.generate(requests(n=1)))
        assert all(not r.ok and "HTTP 503" in r.error and "after 3 attempts" in r.error for r in failed)
    finally:
        proxy.close()
