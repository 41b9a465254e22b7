"""`TransformersEngine`: batched sampling and scoring with a Hugging Face causal LM, CPU or GPU.

Rows (one per sample) of several requests are packed into batches of up to
``batch_size``, left-padded. Sampling is seeded per sample, not per batch: a
logits processor draws each row's next token by inverse-CDF from that sample's
own stream of uniforms (generated from its seed), after temperature and top-p.
So a sample is the same whichever batch it lands in (up to floating-point
differences between batch shapes), and `generate` runs greedy decoding over the
processed scores. Stops at EOS or at any stop string (which is cut from the
text, as OpenAI servers do). bf16 on GPUs that support it, fp16 on other GPUs,
float32 on CPU. With ``on_batch`` set, every decoding step reports the batch's
progress (see `tether.engines.base`), so a batch that runs for minutes shows.

CPU threads (sampling and scoring alike): ``threads`` torch threads, by default
`default_threads()` (``OMP_NUM_THREADS`` where set, as Ray sets it to each worker's
CPUs; else the cores this process may use), and a warning on stderr, once per
process, when they cannot all run at once: more threads than usable cores, or a
machine already busy (load average >= usable cores). OpenMP threads that wait for
a core stall one another: on a busy 2-core machine SmolLM2-135M sampled 11-18
tokens/s with one thread and 2-3 with two (docs/sampling.md, "CPU sampling").

Heavy imports (torch, transformers) happen when an engine is built.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import suppress
from pathlib import Path
from typing import Annotated

from pydantic import Field

from tether.engines import vision
from tether.engines.base import (
    REVISION,
    TEMPLATE,
    BatchProgress,
    Completion,
    Decoding,
    Request,
    Result,
    SequenceScores,
    TokenScores,
)
from tether.errors import InputError
from tether.tasks.prompts import render_prompt
from tether.tasks.task import Messages


class TransformersEngine:
    """A local Hugging Face model (a folder, a hub id, or a GGUF file inside a folder)."""

    name = "transformers"
    processor = None  # a vision-language model's processor (tether.engines.vision); None for a text model
    image_source = None  # scoring's images (digest -> bytes), lent by the stage that scores from a store

    def __init__(
        self,
        model: str | Path,
        *,  # the options: `tether engines transformers` lists them with these meanings
        device: Annotated[str, Field(description="Where the model runs: auto (a GPU where there is one), cpu, "
                                                 "cuda, cuda:1 ...")] = "auto",
        dtype: Annotated[str, Field(description="auto (bfloat16 on GPUs that have it, float16 on other GPUs, "
                                                "float32 on CPU), float32, bfloat16 or float16.")] = "auto",
        batch_size: Annotated[int, Field(ge=1, description="Rows (samples) per generate batch.")] = 32,
        template: Annotated[str, Field(description=TEMPLATE)] = "auto",
        gguf_file: Annotated[str | None, Field(description="A GGUF file inside the model folder, dequantised "
                                                           "on every load (`tether convert-gguf`: once).")] = None,
        revision: Annotated[str | None, Field(description=REVISION)] = None,
        threads: Annotated[int | None, Field(ge=1, description="torch CPU threads [default: OMP_NUM_THREADS, else "
                                                               "the usable cores; 1 on a busy machine is often much "
                                                               "faster].")] = None,
    ):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        self.model_id, self.template, self.batch_size = str(model), template, batch_size
        self.device = ("cuda" if torch.cuda.is_available() else "cpu") if device == "auto" else device
        self.threads = use_threads(threads, self.device)
        self.torch_dtype = _dtype(dtype, self.device)
        extra = {"gguf_file": gguf_file} if gguf_file else {}
        if revision:  # a hub branch, tag or commit (e.g. an earlier release kept in the repo's history)
            extra["revision"] = revision
        self.revision = revision
        try:
            if not gguf_file and vision.is_vision_model(self.model_id, extra):
                self.processor, self.tokenizer, self.model = vision.load(self.model_id, self.torch_dtype, extra)
            else:
                self.tokenizer = AutoTokenizer.from_pretrained(self.model_id, padding_side="left", **extra)
                self.model = AutoModelForCausalLM.from_pretrained(self.model_id, dtype=self.torch_dtype, **extra)
        except (OSError, ValueError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise InputError(f"cannot load model {self.model_id!r}: {first}") from None
        self.model.to(self.device).eval()
        self.eos_ids = _eos_ids(self.model.generation_config.eos_token_id or self.tokenizer.eos_token_id)
        # the positions the model was built for, prompt and completion together (tether.sampling.limits)
        self.max_context: int | None = vision.max_context(self.model.config)
        self.on_batch: BatchProgress | None = None
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token

    @classmethod
    def live(cls, model, tokenizer, *, model_id: str, template: str = "auto",
             batch_size: int = 32) -> TransformersEngine:
        """An engine over a model and tokenizer already in memory (a trainer's policy, mid-training): nothing
        is loaded, moved or converted, torch's threads are left as they are, and `close` leaves the model
        alone. The caller sets the model's mode (eval to sample). `model_id` names it in the manifest (a live
        model has no folder whose weights could be digested)."""
        import copy

        engine = cls.__new__(cls)
        engine.model_id, engine.template, engine.batch_size = str(model_id), template, batch_size
        engine.revision, engine.processor, engine.threads, engine.on_batch = None, None, None, None
        parameter = next(model.parameters())
        engine.model, engine.device, engine.torch_dtype = model, str(parameter.device), parameter.dtype
        engine.tokenizer = tokenizer
        if tokenizer.padding_side != "left" or tokenizer.pad_token_id is None:  # the trainer's own stays as it is
            engine.tokenizer = copy.deepcopy(tokenizer)
            engine.tokenizer.padding_side = "left"
            if engine.tokenizer.pad_token_id is None:
                engine.tokenizer.pad_token = engine.tokenizer.eos_token
        engine.eos_ids = _eos_ids(model.generation_config.eos_token_id or tokenizer.eos_token_id)
        engine.max_context = vision.max_context(model.config)
        return engine

    # -- protocol ------------------------------------------------------------------

    def render(self, prompt: str | Messages) -> str:
        if self.processor is not None:
            return vision.render(prompt, self.processor, self.template)
        return render_prompt(prompt, self.tokenizer, self.template)

    def describe(self) -> dict:
        return {
            "engine": self.name,
            "model": self.model_id,
            "weights": _weights_digest(self.model_id),
            "template": self.template,
            "chat_template": hashlib.sha256((self.tokenizer.chat_template or "").encode()).hexdigest()[:16],
            "dtype": str(self.torch_dtype).removeprefix("torch."),
            **({"revision": self.revision} if self.revision else {}),
        }

    def generate(self, requests: Sequence[Request]) -> Iterator[Result]:
        rows = [(r, i) for r in requests for i in range(r.n)]
        done: dict[str, list[Completion | None]] = {r.key: [None] * r.n for r in requests}
        remaining = {r.key: r.n for r in requests}
        for start in range(0, len(rows), self.batch_size):
            batch = rows[start : start + self.batch_size]
            for (request, index), completion in zip(batch, self._generate_batch(batch)):
                done[request.key][index] = completion
                remaining[request.key] -= 1
                if remaining[request.key] == 0:
                    yield Result(request, list(done.pop(request.key)))

    def score(self, prompts: Sequence[str | Messages], completions: Sequence[str]) -> list[TokenScores]:
        if self.processor is None:
            vision.refuse_images(prompts)
        results = []
        for start in range(0, len(prompts), self.batch_size):
            chunk = zip(prompts[start : start + self.batch_size], completions[start : start + self.batch_size])
            results += self._score_batch(list(chunk))
        return results

    def sequence_scores(self, prompts: Sequence[str | Messages], completions: Sequence[str], decoding: Decoding,
                        ends: Sequence[bool]) -> list[SequenceScores]:
        """Token log-probabilities under this engine's sampling distribution at `decoding` (exact: the
        full next-token distribution is at hand), EOS appended where `ends`."""
        if self.processor is None:
            vision.refuse_images(prompts)
        results = []
        for start in range(0, len(prompts), self.batch_size):
            stop = start + self.batch_size
            results += self._sequence_batch(list(zip(prompts[start:stop], completions[start:stop], ends[start:stop])),
                                            decoding)
        return results

    def close(self) -> None:
        self.model = None

    # -- internals -----------------------------------------------------------------

    def _generate_batch(self, batch: list[tuple[Request, int]]) -> list[Completion]:
        import torch
        from transformers import GenerationConfig, LogitsProcessorList

        decoding = batch[0][0].decoding
        if any(r.decoding != decoding for r, _ in batch):
            raise InputError("one batch mixes decoding settings; give every request of a run the same Decoding")
        texts = [self.render(r.prompt) for r, _ in batch]
        encoded = (self.tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
                   if self.processor is None else
                   vision.encode(self.processor, texts, [r.prompt for r, _ in batch], [r.images for r, _ in batch],
                                 self.torch_dtype)).to(self.device)
        prompt_len = encoded["input_ids"].shape[1]
        seeds = [r.seeds[i] for r, i in batch]
        sampler = SeededSampler(seeds, decoding, prompt_len, self.device,
                                StepMeter(self.on_batch, self.eos_ids, decoding))
        config = GenerationConfig(
            max_new_tokens=decoding.max_tokens,
            do_sample=False,
            pad_token_id=self.tokenizer.pad_token_id,
            eos_token_id=self.model.generation_config.eos_token_id or self.tokenizer.eos_token_id,
            stop_strings=list(decoding.stop) or None,
        )
        with torch.inference_mode():
            output = self.model.generate(
                **encoded,
                generation_config=config,
                logits_processor=LogitsProcessorList([sampler]),
                tokenizer=self.tokenizer if decoding.stop else None,
            )
        sampler.meter.finish()
        return [self._completion(row, decoding, seed) for row, seed in zip(output[:, prompt_len:], seeds)]

    def _completion(self, new_tokens, decoding: Decoding, seed: int) -> Completion:
        ids = new_tokens.tolist()
        length, finish = len(ids), "length"  # rows are padded only after their EOS
        for position, token in enumerate(ids):
            if token in self.eos_ids:
                length, finish = position + 1, "stop"
                break
        text = self.tokenizer.decode(ids[:length], skip_special_tokens=True)
        for stop in decoding.stop:
            cut = text.find(stop)
            if cut >= 0:
                text, finish = text[:cut], "stop"
        return Completion(text=text, n_tokens=length, finish_reason=finish, seed=seed)

    def _forward(self, items: list[tuple[str | Messages, list[int]]]):
        """One teacher-forced forward pass: each rendered prompt followed by its completion's token ids,
        left-padded into one batch. Returns (ids, logits, width); a row's completion is its last tokens."""
        import torch

        if self.processor is not None and any(vision.has_images(prompt) for prompt, _ in items):
            return vision.forward(self, items)
        sequences = [self.tokenizer(self.render(prompt), add_special_tokens=False)["input_ids"] + completion
                     for prompt, completion in items]
        width = max(len(s) for s in sequences)
        pad = self.tokenizer.pad_token_id
        ids = torch.tensor([[pad] * (width - len(s)) + s for s in sequences], device=self.device)
        mask = torch.tensor([[0] * (width - len(s)) + [1] * len(s) for s in sequences], device=self.device)
        with torch.inference_mode():
            return ids, self.model(input_ids=ids, attention_mask=mask).logits, width

    def _completion_ids(self, completion: str) -> list[int]:
        return self.tokenizer(completion, add_special_tokens=False)["input_ids"]

    def _score_batch(self, items: list[tuple[str | Messages, str]]) -> list[TokenScores]:
        import torch

        completions = [self._completion_ids(completion) for _, completion in items]
        ids, logits, width = self._forward([(prompt, c) for (prompt, _), c in zip(items, completions)])
        logp = torch.log_softmax(logits.float(), dim=-1)
        entropy = -(logp.exp() * logp).sum(-1)
        results = []
        for row, completion in enumerate(completions):
            positions = torch.arange(width - len(completion) - 1, width - 1, device=self.device)
            targets = ids[row, width - len(completion) : width]
            token_logp = logp[row, positions].gather(-1, targets[:, None])[:, 0]
            results.append(TokenScores(token_logp.cpu().numpy(), entropy[row, positions].cpu().numpy()))
        return results

    def _sequence_batch(self, items: list[tuple[str | Messages, str, bool]], decoding: Decoding) -> list[SequenceScores]:
        import torch

        eos = sorted(self.eos_ids)[:1]
        completions = [self._completion_ids(completion) + eos * bool(ends) for _, completion, ends in items]
        ids, logits, width = self._forward([(prompt, c) for (prompt, _, _), c in zip(items, completions)])
        results = []
        with torch.inference_mode():
            for row, completion in enumerate(completions):
                length = len(completion)
                targets = ids[row, width - length :]
                logprobs = sampling_logprobs(logits[row, width - length - 1 : width - 1], targets, decoding)
                token_ids = tuple(targets.tolist())
                tokens = tuple(self.tokenizer.decode([t]) for t in token_ids)
                results.append(SequenceScores(logprobs.cpu().numpy(), tokens, token_ids))
        return results


# -- CPU threads -----------------------------------------------------------------

_WARNED: list[str] = []  # the oversubscription warning is said once per process


def usable_cores() -> int:
    """The CPUs this process may run on: its affinity mask (taskset, a container's cpuset), capped by a
    container's CPU quota (cgroup v2 ``cpu.max``), at least 1."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    with suppress(OSError, ValueError):
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            cores = min(cores, math.ceil(int(quota) / int(period)))
    return max(1, cores)


def load_average() -> float | None:
    """The one-minute load average (None where the system does not say)."""
    with suppress(OSError, AttributeError):
        return os.getloadavg()[0]
    return None


def default_threads(workers: int = 1, cores: int | None = None) -> int:
    """Torch threads for CPU sampling: ``OMP_NUM_THREADS`` where set (Ray sets it to the CPUs of each of
    its workers), else the usable cores shared by `workers` engines sampling at once, at least 1."""
    with suppress(ValueError):
        given = int(os.environ.get("OMP_NUM_THREADS", ""))
        if given >= 1:
            return given
    return max(1, (usable_cores() if cores is None else cores) // max(1, workers))


def oversubscription(threads: int, cores: int, load: float | None, workers: int = 1) -> str | None:
    """Why `workers` engines of `threads` torch threads each would sample slowly on `cores` usable cores
    at this one-minute `load` average (None: they would not)."""
    if threads * workers > cores:
        return (f"{threads} torch threads x {workers} worker(s) on {cores} usable cores: threads that wait for a "
                f"core stall one another; give threads = {max(1, cores // workers)} (-o threads=N, or `threads` "
                "in the experiment file's model section)")
    if threads > 1 and load is not None and load >= cores:
        return (f"this machine is busy (load average {load:.1f} on {cores} usable cores) and CPU sampling uses "
                f"{threads} torch threads, which then stall one another (on a busy 2-core machine: 2-3 tokens/s "
                "with two threads, 11-18 with one); try -o threads=1 (`threads = 1` in an experiment file; "
                "docs/sampling.md)")
    return None


def use_threads(threads: int | None, device: str) -> int | None:
    """Set torch's CPU threads (and its inter-op threads, where torch still allows it): `threads`, or on a
    CPU `default_threads()`; warn on stderr once per process when the machine is oversubscribed. On a GPU
    with no `threads` given, torch's own are kept (None)."""
    import torch

    if threads is None and not device.startswith("cpu"):
        return None
    chosen = threads or default_threads()
    torch.set_num_threads(chosen)
    with suppress(RuntimeError):  # allowed once per process, before any inter-op work
        torch.set_num_interop_threads(chosen)
    problem = oversubscription(chosen, usable_cores(), load_average()) if device.startswith("cpu") else None
    if problem and not _WARNED:
        _WARNED.append(problem)
        print(f"warning: {problem}", file=sys.stderr, flush=True)
    return chosen


NUCLEUS_TOLERANCE = 1e-5  # cumulative mass: a batch of another shape rounds logits differently (~1e-6)


def sampling_logprobs(logits, targets, decoding: Decoding, chunk: int = 256):
    """log P(target) at each position under the sampling distribution `SeededSampler` draws from:
    softmax(logits / T) restricted to the nucleus (sorted tokens whose preceding cumulative mass is
    < top_p), renormalised; -inf outside it. Membership is decided in float32 as the sampler decides
    it, with `NUCLEUS_TOLERANCE` on the cumulative mass (the sampler saw the logits of another batch
    shape, which differ by rounding); the log-probability itself in float64. T = 0 is greedy: 0 for
    the argmax, else -inf. The nucleus is found among the top tokens only (`torch.topk`, widened until
    it holds top_p of the mass), not by sorting the whole vocabulary at every position."""
    import torch

    out = []
    for start in range(0, len(targets), chunk):
        block, wanted = logits[start : start + chunk].float(), targets[start : start + chunk]
        if decoding.temperature == 0:
            out.append(torch.where(block.argmax(-1) == wanted, 0.0, float("-inf")).double())
            continue
        scaled = block / decoding.temperature
        logp = torch.log_softmax(scaled.double(), dim=-1)
        chosen = logp.gather(-1, wanted[:, None])[:, 0]
        if decoding.top_p >= 1:
            out.append(chosen)
            continue
        out.append(torch.where(*_nucleus(logp, torch.softmax(scaled, dim=-1), wanted, decoding.top_p, chosen)))
    return torch.cat(out) if out else torch.zeros(0, dtype=torch.float64)


def _nucleus(logp, probs, wanted, top_p: float, chosen):
    """(inside, renormalised log-probability, -inf) for `torch.where`: the target is inside its row's
    nucleus when the mass of more probable tokens is < top_p; the nucleus's log mass, in float64, is over
    the top tokens whose preceding cumulative mass is < top_p."""
    import torch

    k = min(64, probs.shape[-1])
    while True:  # the fewest top tokens (one count for the block) that hold top_p of every row's mass
        values, order = torch.topk(probs, k, dim=-1)
        if k == probs.shape[-1] or bool((values.sum(-1) >= top_p + NUCLEUS_TOLERANCE).all()):
            break
        k = min(k * 4, probs.shape[-1])
    target = probs.gather(-1, wanted[:, None])
    above = torch.where(values > target, values, torch.zeros_like(values)).sum(-1)
    keep = (values.cumsum(dim=-1) - values) < top_p + NUCLEUS_TOLERANCE
    ranked = logp.gather(-1, order)
    mass = torch.logsumexp(torch.where(keep, ranked, torch.full_like(ranked, float("-inf"))), dim=-1)
    return above < top_p + NUCLEUS_TOLERANCE, chosen - mass, torch.full_like(chosen, float("-inf"))


class SeededSampler:
    """A logits processor that samples each row from its own seeded uniforms (temperature, top-p)."""

    def __init__(self, seeds: list[int], decoding: Decoding, prompt_len: int, device: str,
                 meter: StepMeter | None = None):
        import torch

        self.decoding, self.prompt_len, self.meter = decoding, prompt_len, meter or StepMeter(None, set(), decoding)
        streams = [torch.rand(decoding.max_tokens, generator=torch.Generator().manual_seed(s)) for s in seeds]
        self.uniforms = torch.stack(streams).to(device)

    def __call__(self, input_ids, scores):
        import torch

        step = input_ids.shape[1] - self.prompt_len
        self.meter.step(input_ids, step)
        if self.decoding.temperature == 0:
            return scores
        probs = torch.softmax(scores.float() / self.decoding.temperature, dim=-1)
        sorted_probs, order = probs.sort(dim=-1, descending=True)
        cumulative = sorted_probs.cumsum(dim=-1)
        kept = torch.where(cumulative - sorted_probs < self.decoding.top_p, sorted_probs, 0.0)
        kept_cumulative = kept.cumsum(dim=-1)
        targets = self.uniforms[:, step : step + 1] * kept_cumulative[:, -1:]
        choice = torch.searchsorted(kept_cumulative, targets).clamp_(max=scores.shape[-1] - 1)
        tokens = order.gather(-1, choice)
        out = torch.full_like(scores, float("-inf"))
        return out.scatter_(-1, tokens, 0.0)


class StepMeter:
    """Counts a batch's decoding steps and its rows still running, for `BatchProgress`."""

    def __init__(self, report: BatchProgress | None, eos: set[int], decoding: Decoding):
        self.report, self.eos, self.max_tokens = report, sorted(eos), decoding.max_tokens
        self.alive = self.eos_ids = None  # made on the first step, on the batch's device
        self.tokens = 0

    def step(self, input_ids, step: int) -> None:
        if self.report is None:
            return
        import torch

        if self.alive is None:
            self.alive = torch.ones(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
            self.eos_ids = torch.tensor(self.eos, dtype=input_ids.dtype, device=input_ids.device)
        elif self.eos:
            self.alive &= ~torch.isin(input_ids[:, -1], self.eos_ids)
        self.tokens += int(self.alive.sum())
        self.report(input_ids.shape[0] * (step + 1) / self.max_tokens, self.tokens)

    def finish(self) -> None:
        if self.report is not None:
            self.report(0.0, 0)


def _dtype(name: str, device: str):
    import torch

    if name != "auto":
        return getattr(torch, name)
    if device.startswith("cuda"):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32


def _eos_ids(value) -> set[int]:
    if value is None:
        return set()
    return set(value) if isinstance(value, (list, tuple)) else {int(value)}


def _weights_digest(model_id: str) -> str | None:
    """A digest of a local model folder's config and weight file sizes (None for hub ids)."""
    folder = Path(model_id)
    if not folder.is_dir():
        return None
    parts = [(p.name, p.stat().st_size) for p in sorted(folder.iterdir()) if p.suffix in {".safetensors", ".bin", ".gguf"}]
    config = folder / "config.json"
    payload = json.dumps([parts, config.read_text() if config.exists() else ""])
    return hashlib.sha256(payload.encode()).hexdigest()[:16]
