"""Regenerate the LLM demo in ``assets/llm/``: a small Llama-architecture causal LM trained here on
the Debian ``fortunes`` corpus, exported for openvino.genai, with a text set and a prompt set.

The corpus: the plain-text fortune files of Debian's ``fortunes`` package (``apt-get install
fortunes``; data of BSD fortune-mod, BSD licence: /usr/share/doc/fortunes/copyright). Run from the
repository root with the LLM converter installed (requirements-llm.txt, which the dev venv has)::

    .venv/bin/python assets/make_llm.py [--out DIR] [--minutes M]

Deterministic up to the wall-clock budget (fixed seeds, two threads). What it writes:

* ``fortune-llama/``: the model as optimum-intel exports it for ``openvino_genai.LLMPipeline``
  (``openvino_model.xml`` stateful with its KV cache, weights stored f16; ``openvino_tokenizer.xml`` /
  ``openvino_detokenizer.xml`` converted by openvino-tokenizers; config, generation config and the
  Hugging Face tokenizer files). A byte-level BPE tokenizer of 1536 tokens; 4 layers, hidden 256,
  8 heads (4 key/value heads), MLP 512: 2.75 M parameters.
* ``fortunes_texts.jsonl``: 300 held-out fortunes (column ``text``), for perplexity and calibration.
* ``fortunes_prompts.jsonl``: 48 prompts (the first words of other held-out fortunes, column ``text``).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import shutil
import tempfile
import time
from pathlib import Path

FORTUNES = Path("/usr/share/games/fortunes")
FILES = ("fortunes", "computers", "linux", "literature", "science", "wisdom", "work", "people", "platitudes",
         "definitions", "education", "food", "humorists", "law", "love", "magic", "miscellaneous", "news",
         "pets", "politics", "songs-poems", "sports", "startrek", "zippy", "riddles", "medicine", "art")
EOS = "<|endoftext|>"


def read_corpus() -> list[str]:
    texts = []
    for name in FILES:
        path = FORTUNES / name
        if path.is_file():
            for part in path.read_text(encoding="utf-8", errors="replace").split("\n%\n"):
                text = " ".join(part.split())
                if 20 <= len(text) <= 400:
                    texts.append(text)
    if len(texts) < 2000:
        raise SystemExit(f"Found {len(texts)} fortunes under {FORTUNES}; install Debian's 'fortunes' package.")
    return sorted(set(texts))


def train_tokenizer(texts: list[str]):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.train_from_iterator(texts, trainers.BpeTrainer(
        vocab_size=1536, special_tokens=[EOS], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, bos_token=EOS, eos_token=EOS, pad_token=EOS,
                                   model_max_length=256)


def train(texts: list[str], tokenizer, minutes: float):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    torch.set_num_threads(2)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=256, intermediate_size=512, num_hidden_layers=4,
                         num_attention_heads=8, num_key_value_heads=4, max_position_embeddings=256,
                         bos_token_id=tokenizer.eos_token_id, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.eos_token_id, tie_word_embeddings=True)
    model = LlamaForCausalLM(config)
    print(f"{sum(p.numel() for p in model.parameters()) / 1e6:.2f} M parameters", flush=True)
    ids = []
    for text in texts:
        ids += tokenizer(text)["input_ids"] + [tokenizer.eos_token_id]
    block, batch = 128, 32
    data = torch.tensor(ids[: len(ids) // block * block]).view(-1, block)
    print(f"{len(ids)} training tokens, {len(data)} blocks", flush=True)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)
    deadline, step, started = time.time() + 60 * minutes, 0, time.time()
    budget = 60 * minutes
    model.train()
    while time.time() < deadline:
        for group in optimizer.param_groups:  # cosine over the wall-clock budget, short warm-up
            done = (time.time() - started) / budget
            group["lr"] = 3e-3 * min(1.0, step / 50) * 0.5 * (1 + math.cos(math.pi * min(done, 1.0)))
        rows = torch.randint(0, len(data), (batch,))
        loss = model(input_ids=data[rows], labels=data[rows]).loss
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        if step % 100 == 0:
            print(f"step {step} loss {loss.item():.3f} ({time.time() - started:.0f} s)", flush=True)
        step += 1
    model.eval()
    return model.half().float()  # weights rounded to f16, as they are stored


def export(model, tokenizer, out: Path) -> None:
    import openvino as ov
    from optimum.exporters.openvino import main_export

    with tempfile.TemporaryDirectory() as scratch:
        model.save_pretrained(scratch)
        tokenizer.save_pretrained(scratch)
        main_export(scratch, output=out, task="text-generation-with-past", convert_tokenizer=True)
    xml = out / "openvino_model.xml"  # optimum writes f32; store f16 (half the bytes, same values)
    model_ir = ov.Core().read_model(xml)
    ov.save_model(model_ir, out / "f16.xml", compress_to_fp16=True)
    del model_ir
    for suffix in (".xml", ".bin"):
        (out / f"f16{suffix}").replace(out / f"openvino_model{suffix}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "llm")
    parser.add_argument("--minutes", type=float, default=7.0)
    args = parser.parse_args()
    texts = read_corpus()
    random.Random(0).shuffle(texts)
    held_texts, held_prompts, training = texts[:300], texts[300:348], texts[348:]
    tokenizer = train_tokenizer(training)
    model = train(training, tokenizer, args.minutes)
    args.out.mkdir(parents=True, exist_ok=True)
    target = args.out / "fortune-llama"
    shutil.rmtree(target, ignore_errors=True)
    export(model, tokenizer, target)
    with (args.out / "fortunes_texts.jsonl").open("w") as f:
        for text in held_texts:
            f.write(json.dumps({"text": text}) + "\n")
    with (args.out / "fortunes_prompts.jsonl").open("w") as f:
        for text in held_prompts:
            f.write(json.dumps({"text": " ".join(text.split()[:4])}) + "\n")
    print(f"wrote {target} ({sum(p.stat().st_size for p in target.iterdir()) / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
