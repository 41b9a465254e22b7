"""Image prompts through the engines: a real tiny VLM (Idefics3, built offline) in the transformers engine,
the openai engine's data-URL image parts, and the one-line refusals where images cannot go."""

from __future__ import annotations

import pytest
from PIL import Image as PILImage

from tether.engines.base import Decoding, Request, derive_seed
from tether.errors import InputError
from tether.tasks.images import image_from, vision_prompt

DECODING = Decoding(temperature=1.0, top_p=1.0, max_tokens=12)


def picture(colour: tuple[int, int, int], size=(40, 30)):
    image = PILImage.new("RGB", size, colour)
    for x in range(0, size[0], 4):
        image.putpixel((x, x % size[1]), (255 - colour[0], 255 - colour[1], 255 - colour[2]))
    return image_from(image)


@pytest.fixture(scope="module")
def vlm(tiny_vlm):
    from tether.engines.transformers_engine import TransformersEngine

    engine = TransformersEngine(tiny_vlm, device="cpu", batch_size=3, threads=1)
    yield engine
    engine.close()


def request(key: str, images, text: str = "What is shown?", n: int = 2) -> Request:
    return Request(key, vision_prompt(text, images), tuple(derive_seed(3, key, i) for i in range(n)), DECODING,
                   tuple(images))


def texts(results) -> dict[str, list[str]]:
    return {r.request.key: [c.text for c in r.completions] for r in results}


def test_vlm_loads_with_its_processor_and_renders_image_parts(vlm):
    red = picture((220, 20, 20))
    assert vlm.processor is not None and vlm.max_context == 512
    rendered = vlm.render(vision_prompt("What is shown?", [red]))
    assert rendered == "user: <image>What is shown?<end_of_utterance> assistant: "
    assert vlm.render("Hi") == "user: Hi<end_of_utterance> assistant: "  # text prompts keep working
    with pytest.raises(InputError, match="needs the model's chat template"):
        type(vlm).render(_with_template(vlm, "plain"), vision_prompt("x", [red]))


def _with_template(engine, template):
    clone = object.__new__(type(engine))
    clone.__dict__.update(engine.__dict__, template=template)
    return clone


def test_vlm_samples_are_seeded_and_see_the_image(vlm):
    red, blue = picture((220, 20, 20)), picture((20, 20, 220))
    text = Request("text", "What is shown?", (11, 12), DECODING)  # a text task in the same batch
    together = texts(vlm.generate([request("a", [red]), text, request("b", [blue]), request("c", [red, blue])]))
    alone = texts(vlm.generate([request("b", [blue])]))
    assert alone["b"] == together["b"]  # a sample does not depend on its batch
    assert texts(vlm.generate([text]))["text"] == together["text"]
    assert all(len(samples) == 2 for samples in together.values()) and any(s for v in together.values() for s in v)
    # the same seeds and text with another picture: the model saw the pixels
    swapped = texts(vlm.generate([Request("a", vision_prompt("What is shown?", [blue]), request("a", [red]).seeds,
                                          DECODING, (blue,))]))
    assert swapped["a"] != together["a"]


def test_request_without_its_image_bytes_is_refused_in_one_line(vlm):
    red = picture((220, 20, 20))
    bare = Request("a", vision_prompt("What is shown?", [red]), (1,), DECODING)  # no images with it
    with pytest.raises(InputError, match="not with the task"):
        list(vlm.generate([bare]))


def test_vlm_scores_image_prompts_with_the_stores_images(vlm):
    red, blue = picture((220, 20, 20)), picture((20, 20, 220))
    prompts = [vision_prompt("What is shown?", [red]), vision_prompt("What is shown?", [blue]), "What is shown?"]
    with pytest.raises(InputError, match="needs its images"):
        vlm.score(prompts[:1], ["ab"])
    vlm.image_source = {image.digest: image.data for image in (red, blue)}.__getitem__
    try:
        together = vlm.score(prompts, ["ab", "ab", "abc"])
        alone = vlm.score(prompts[1:2], ["ab"])[0]
        sequences = vlm.sequence_scores(prompts[:2], ["ab", "ab"], DECODING, [True, False])
    finally:
        vlm.image_source = None
    assert [len(s.logprobs) for s in together] == [2, 2, 3]
    assert alone.logprobs == pytest.approx(together[1].logprobs, abs=1e-5)  # padding in a batch changes nothing
    assert together[0].logprobs != pytest.approx(together[1].logprobs, abs=1e-6)  # the picture counts
    assert len(sequences[0].logprobs) == 3 and len(sequences[1].logprobs) == 2  # EOS scored where it ended
    assert sequences[1].logprobs == pytest.approx(together[1].logprobs, abs=1e-5)  # temperature 1, top_p 1


def test_text_model_refuses_an_image_prompt(tiny_model):
    from tether.engines.transformers_engine import TransformersEngine

    engine = TransformersEngine(tiny_model, device="cpu", threads=1)
    assert engine.processor is None
    with pytest.raises(InputError, match="reads text only"):
        engine.render(vision_prompt("what?", [picture((0, 0, 0))]))


def test_vllm_text_model_refuses_an_image_prompt():
    """vLLM's text-only model (its model config: not multimodal) is refused in one line, never rendered with its
    chat template into the content list's text and then failed by vLLM ("Multi-modal processor not available")."""
    from types import SimpleNamespace

    from tether.engines.vllm_engine import VLLMEngine

    engine = object.__new__(VLLMEngine)
    engine.template, engine.multimodal = "auto", False
    engine.tokenizer = SimpleNamespace(chat_template="{{ messages }}", apply_chat_template=lambda *a, **k: "text")
    with pytest.raises(InputError, match="reads text only"):
        engine.render(vision_prompt("what?", [picture((0, 0, 0))]))


VLLM_SCRIPT = """
import json, os, sys
from PIL import Image as PILImage
from tether.engines import Decoding, Request, derive_seed
from tether.engines.vllm_engine import VLLMEngine
from tether.errors import InputError
from tether.tasks.images import image_from, vision_prompt

pictures = [image_from(PILImage.new("RGB", (40, 30), colour)) for colour in ((220, 20, 20), (20, 20, 220))]
decoding = Decoding(temperature=1.0, top_p=1.0, max_tokens=10)
def request(key, images):
    return Request(key, vision_prompt("What is shown?", images), tuple(derive_seed(5, i) for i in range(3)),
                   decoding, tuple(images))
engine = VLLMEngine(sys.argv[1], dtype="float32", enforce_eager=True, max_model_len=512, seed=0,
                    distributed_executor_backend="uni")
requests = [request("red", pictures[:1]), request("blue", pictures[1:]), request("both", pictures)]
first = {r.request.key: [[c.text, c.n_tokens] for c in r.completions] for r in engine.generate(requests)}
again = {r.request.key: [[c.text, c.n_tokens] for c in r.completions] for r in engine.generate(requests[::-1])}
try:
    engine.score([requests[0].prompt], ["a"])
    refused = ""
except InputError as exc:
    refused = str(exc)
print("RESULT " + json.dumps({"first": first, "again": again, "rendered": engine.render(requests[2].prompt),
                              "refused": refused}), flush=True)
engine.close()
os._exit(0)
"""


def test_vllm_serves_the_tiny_vlm_with_images(tiny_vlm):
    """vLLM's CPU build runs Idefics3 (its LLaVA and Qwen2-VL need torchvision, which is not installed)."""
    import json
    import os
    import subprocess
    import sys

    pytest.importorskip("vllm")
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1", "HF_HUB_OFFLINE": "1", "VLLM_NO_USAGE_STATS": "1",
           "VLLM_ENABLE_V1_MULTIPROCESSING": "0"}
    out = subprocess.run([sys.executable, "-c", VLLM_SCRIPT, str(tiny_vlm)], capture_output=True, text=True,
                         env=env, timeout=600, check=False)
    lines = [line for line in out.stdout.splitlines() if line.startswith("RESULT ")]
    assert out.returncode == 0 and lines, out.stderr[-3000:]
    result = json.loads(lines[-1][len("RESULT "):])
    assert result["first"] == result["again"]  # seeded per sample, whatever the order
    assert all(len(samples) == 3 and all(1 <= n <= 10 for _, n in samples) for samples in result["first"].values())
    assert result["first"]["red"] != result["first"]["blue"]  # same seeds, another picture
    assert result["rendered"] == "user: <image><image>What is shown?<end_of_utterance> assistant: "
    assert "not yet for image tasks" in result["refused"]


class Capture:
    """A local OpenAI-compatible server that keeps each request body and answers one choice."""

    def __init__(self):
        import http.server
        import json
        import threading

        self.bodies: list[dict] = []
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                self._send({"data": [{"id": "vlm"}]})

            def do_POST(self):
                owner.bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                n = owner.bodies[-1].get("n", 1)
                self._send({"choices": [{"message": {"content": "three"}, "finish_reason": "stop"}] * n,
                            "usage": {"completion_tokens": 1}})

            def _send(self, data):
                body = json.dumps(data).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def test_openai_engine_sends_images_as_data_url_parts():
    from tether.engines.openai_engine import OpenAICompatibleEngine

    server = Capture()
    try:
        red, blue = picture((220, 20, 20)), picture((20, 20, 220))
        engine = OpenAICompatibleEngine("vlm", server.base_url, tokenizer=None)
        prompt = vision_prompt("Which is red?", [red, blue])
        results = list(engine.generate([Request("a", prompt, (7,), DECODING, (red, blue))]))
        assert results[0].ok and results[0].completions[0].text == "three"
        sent = server.bodies[-1]["messages"]  # the probe came first; then the task itself
        assert sent == [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": red.data_url()}},
            {"type": "image_url", "image_url": {"url": blue.data_url()}},
            {"type": "text", "text": "Which is red?"}]}]
        assert server.bodies[-1]["seed"] == 7 and red.data_url().startswith("data:image/png;base64,")
        assert red.ref in engine.render(prompt)  # the rendered (stored) prompt names the images, not their bytes
        with pytest.raises(InputError, match="needs /v1/chat/completions"):
            OpenAICompatibleEngine("vlm", server.base_url, api="completions").render(prompt)
        with pytest.raises(InputError, match="not yet for image tasks"):
            engine.score([prompt], ["x"])
    finally:
        server.server.shutdown()


def _cuda() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


@pytest.mark.gpu
@pytest.mark.skipif(not _cuda(), reason="needs a CUDA GPU (none on this machine)")
def test_vlm_on_gpu_samples_and_scores_in_its_default_dtype(tiny_vlm):
    from tether.engines.transformers_engine import TransformersEngine

    engine = TransformersEngine(tiny_vlm, batch_size=4)  # bf16 where the GPU has it: the pixels follow
    red = picture((220, 20, 20))
    assert engine.device == "cuda"
    result = next(engine.generate([request("red", [red], n=4)]))
    assert result.ok and all(1 <= c.n_tokens <= DECODING.max_tokens for c in result.completions)
    engine.image_source = {red.digest: red.data}.__getitem__
    scores = engine.score([vision_prompt("What is shown?", [red])], ["ab"])[0]
    assert len(scores.logprobs) == 2 and (scores.logprobs <= 0).all()
