"""Language models in: an exported openvino.genai folder taken as is, or a Hugging Face checkpoint
converted once by optimum-intel's exporter (stateful KV cache) and openvino-tokenizers.

An LLM is stored as a folder under the data dir: ``openvino_model.xml`` (the row's path) beside
``openvino_tokenizer.xml`` / ``openvino_detokenizer.xml`` and the Hugging Face config and tokenizer
files, which is what ``openvino_genai.LLMPipeline`` opens. Converting needs the optional converter
(requirements-llm.txt); running an exported folder needs only the base requirements.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from core.errors import BadInputError, ModelFormatError

MODEL_XML = "openvino_model.xml"
TOKENIZER_XML = "openvino_tokenizer.xml"
DETOKENIZER_XML = "openvino_detokenizer.xml"
WEIGHT_FILES = ("*.safetensors", "pytorch_model.bin")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json", "vocab.txt")
CONVERTER_HINT = ("Converting a Hugging Face checkpoint needs the LLM converter: run `.venv/bin/pip install -r "
                  "requirements-llm.txt && .venv/bin/pip install --no-deps -r requirements-llm-nodeps.txt`, or "
                  "upload a folder exported with `optimum-cli export openvino` (openvino_model.xml with "
                  "openvino_tokenizer.xml and openvino_detokenizer.xml).")


def _ignored(path: Path, top: Path) -> bool:
    return any(part in ("__MACOSX", ".git") for part in path.relative_to(top).parts)


def find_llm_folder(folder: Path) -> tuple[Path, str] | None:
    """(the model's folder, 'exported' or 'checkpoint') when folder holds a language model folder.

    Exported: openvino_model.xml (and its .bin) beside config.json or the tokenizer IRs. A checkpoint:
    config.json beside safetensors / pytorch_model.bin weights and tokenizer files.
    """
    for xml in sorted(folder.rglob(MODEL_XML)):
        root = xml.parent
        if not _ignored(xml, folder) and ((root / TOKENIZER_XML).is_file() or (root / "config.json").is_file()):
            return root, "exported"
    for config in sorted(folder.rglob("config.json")):
        root = config.parent
        if _ignored(config, folder):
            continue
        if any(next(root.glob(pattern), None) for pattern in WEIGHT_FILES) and any(
                (root / name).is_file() for name in TOKENIZER_FILES):
            return root, "checkpoint"
    return None


def read_config(root: Path) -> dict:
    """The folder's config.json ({} when absent or not JSON)."""
    try:
        return json.loads((root / "config.json").read_text())
    except (OSError, ValueError):
        return {}


def is_causal(config: dict) -> bool:
    """Whether a Hugging Face config describes a text generator (a ...ForCausalLM / LMHead architecture)."""
    return any(a.endswith("ForCausalLM") or "LMHead" in a for a in config.get("architectures") or [])


def check_exported(root: Path) -> None:
    """Refuses an exported folder that openvino.genai cannot open, naming what is missing."""
    missing = [name for name in (MODEL_XML, MODEL_XML.replace(".xml", ".bin"), TOKENIZER_XML,
                                 TOKENIZER_XML.replace(".xml", ".bin"), DETOKENIZER_XML) if not (root / name).is_file()]
    if missing:
        raise ModelFormatError(
            f"The exported model folder '{root.name}' lacks {', '.join(missing)}; openvino.genai needs the model "
            "IR and the tokenizer / detokenizer IRs. Export again with `optimum-cli export openvino --model ... "
            "DIR` (it converts the tokenizer when openvino-tokenizers is installed), or upload the Hugging Face "
            "checkpoint (config.json, safetensors, tokenizer files) for the lab to convert.")


def convert_checkpoint(root: Path, output: Path) -> None:
    """Converts a Hugging Face checkpoint folder to an openvino.genai folder in output, weights kept
    as they are (optimum's own INT8 of > 1B-parameter models is turned off: the lab compresses on request).

    Raises:
        BadInputError: The converter is not installed.
        ModelFormatError: The checkpoint cannot be converted (its reason included).
    """
    try:
        from optimum.exporters.openvino import main_export
        from optimum.intel import OVConfig
    except ImportError as error:
        raise BadInputError(f"{CONVERTER_HINT} ({error})") from error
    config = read_config(root)
    task = "text-generation-with-past" if is_causal(config) else "feature-extraction"
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a local folder: never look at the hub
    try:
        main_export(str(root), output=str(output), task=task, convert_tokenizer=True, library_name="transformers",
                    ov_config=OVConfig(dtype="fp32"))
    except Exception as error:  # transformers / optimum raise many types for checkpoints they cannot read
        shutil.rmtree(output, ignore_errors=True)
        raise ModelFormatError(
            f"The checkpoint '{root.name}' ({', '.join(config.get('architectures') or ['no architecture'])}) could "
            f"not be converted ({type(error).__name__}: {str(error)[:300]}). The converter takes causal LMs (Llama, "
            "Qwen, Phi, GPT-2, Mistral ...) and encoders of the transformers version in requirements-llm.txt.") \
            from error
    if not (output / TOKENIZER_XML).is_file():
        raise ModelFormatError(f"The checkpoint '{root.name}' converted, but its tokenizer did not (openvino-"
                               "tokenizers took no tokenizer from it); add tokenizer.json to the folder.")


def copy_exported(root: Path, output: Path) -> None:
    """Copies an exported folder's files (not its subfolders) into output."""
    output.mkdir(parents=True, exist_ok=True)
    for path in root.iterdir():
        if path.is_file():
            shutil.copy2(path, output / path.name)


def companion_files(model_xml: Path) -> list[Path]:
    """The files an LLM's IR needs beside it (tokenizer IRs, configs, tokenizer files): everything in its
    folder but the model IR itself and hidden files, for an optimized child to carry along. (The job
    marker is hidden: a child that carried its parent's took the import job's id, and a recovery round
    removed the folder of the compression writing it.)"""
    return sorted(p for p in model_xml.parent.iterdir()
                  if p.is_file() and not p.name.startswith(".")
                  and p.name not in (MODEL_XML, MODEL_XML.replace(".xml", ".bin")))


def token_feed(ids, names: set[str]) -> dict:
    """The inputs of one forward pass of a stateful causal LM over token ids [1, L] from position 0
    (the KV cache reset first): input_ids, attention_mask, position_ids, beam_idx — those in names."""
    import numpy as np

    ids = np.asarray(ids, dtype=np.int64).reshape(1, -1)
    feed = {"input_ids": ids, "attention_mask": np.ones_like(ids), "position_ids": np.arange(ids.shape[1])[None],
            "beam_idx": np.zeros(1, np.int32)}
    return {name: value for name, value in feed.items() if name in names}


def calibration_feeds(model_xml: Path, texts: list[str], *, max_tokens: int = 128) -> list[dict]:
    """One forward-pass feed per text (its first max_tokens tokens, from BOS) for NNCF's data-aware
    weight compression of a language model; texts without a token are skipped."""
    import openvino as ov
    import openvino_genai

    tokenizer = openvino_genai.Tokenizer(str(model_xml.parent))
    names = {port.any_name for port in ov.Core().read_model(model_xml).inputs}
    prefix = tokenizer.get_bos_token_id()
    feeds = []
    for text in texts:
        ids = [int(i) for i in tokenizer.encode(text, add_special_tokens=False).input_ids.data[0]][:max_tokens - 1]
        if ids:
            feeds.append(token_feed(([prefix] if prefix >= 0 else []) + ids, names))
    if not feeds:
        raise BadInputError("None of the calibration texts has a token; give a text dataset with some text in it.")
    return feeds


def is_llm(model_xml: Path) -> bool:
    """Whether a stored model is an openvino.genai folder (its IR beside the tokenizer IR)."""
    return model_xml.name == MODEL_XML and (model_xml.parent / TOKENIZER_XML).is_file()
