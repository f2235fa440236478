"""Downloads of a language model: the openvino.genai folder as a zip, an OpenVINO Model Server LLM
deployment (a MediaPipe graph.pbtxt with the continuous-batching settings beside the model folder),
and the llm_bench command that repeats one of the lab's generation measurements.

Every function reads the model's stored rows and returns bytes or text; nothing is written to disk.
"""

from __future__ import annotations

import io
import json
import shlex
import zipfile
from dataclasses import dataclass
from pathlib import Path

from core.deploy.script import safe_name
from core.errors import BadInputError, NotFoundError
from core.intake.llm import companion_files, is_llm
from core.intake.sources import texts
from core.measure.accuracy_tables import metric_title
from core.measure.generation import FILLER, prompt_of
from core.options import LLM_METRICS, _Options, _positive
from core.storage import resolve
from db import generations
from db import repository as repo
from db.records import GenerationRecord, ModelRecord

KV_CACHE_PRECISIONS = ("u8", "u4", "f16", "bf16", "f32")


@dataclass(frozen=True, kw_only=True)
class OvmsLlmOptions(_Options):
    """The continuous-batching settings of an OVMS LLM deployment (graph.pbtxt, LLMCalculatorOptions).

    Attributes:
        device: OpenVINO device the server runs the model on.
        cache_size: KV cache the server allocates, in GB (the memory it reserves for concurrent requests).
        max_num_seqs: Most sequences (requests) scheduled at once.
        max_num_batched_tokens: Most tokens one scheduler step processes (prompt chunks with dynamic split fuse).
        dynamic_split_fuse: Split long prompts across steps and fuse them with generation (smoother latency).
        enable_prefix_caching: Keep the KV cache of earlier prompts to reuse for a shared prefix (chats).
        kv_cache_precision: Element type of the KV cache (u8 halves its memory); empty = the device's default.
    """

    device: str = "CPU"
    cache_size: int = 2
    max_num_seqs: int = 256
    max_num_batched_tokens: int = 256
    dynamic_split_fuse: bool = True
    enable_prefix_caching: bool = False
    kv_cache_precision: str | None = None

    def __post_init__(self) -> None:
        for name in ("cache_size", "max_num_seqs", "max_num_batched_tokens"):
            _positive(name, getattr(self, name))
        if self.kv_cache_precision not in (None, *KV_CACHE_PRECISIONS):
            raise BadInputError(f"kv_cache_precision is one of {', '.join(KV_CACHE_PRECISIONS)} (or empty for the "
                                f"device's default); got {self.kv_cache_precision!r}.")

    def plugin_config(self) -> dict[str, str]:
        return {"KV_CACHE_PRECISION": self.kv_cache_precision} if self.kv_cache_precision else {}


def model_folder(model: ModelRecord) -> list[Path]:
    """The files of a language model's openvino.genai folder (IR, tokenizer IRs, configs)."""
    xml = resolve(model.path)
    if not is_llm(xml):
        raise BadInputError(f"Model #{model.id} '{model.name}' is not a language model; its downloads are the IR "
                            "zip, the OVMS repository and the benchmark_app command.")
    if not xml.with_suffix(".bin").is_file():
        raise NotFoundError(f"The IR files of model #{model.id} are missing from the data dir ({model.path}); "
                            "restore a backup or run its job again.")
    return [xml, xml.with_suffix(".bin"), *companion_files(xml)]


def generation_markdown(model_id: int) -> str:
    """The model's stored generation points and quality rows as Markdown tables (for READMEs)."""
    points, quality = generations.list_generations(model_id), [
        a for a in repo.list_accuracy(model_id) if a.metric in LLM_METRICS]
    if not points and not quality:
        return "No measurements stored for this model yet.\n"
    lines = []
    if points:
        lines += ["| device | prompt tokens | new tokens | repeats | TTFT ms (± std) | TPOT ms | tokens/s (± std) "
                  "| peak memory MB | measured (UTC) |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        lines += [f"| {g.device} | {g.input_tokens} | {g.generated_tokens} | {g.repeats} | {g.ttft_ms:.3f} "
                  f"(± {g.stats['ttft_ms']['std']:.3f}) | {g.tpot_ms:.4f} | {g.tokens_per_s:.1f} "
                  f"(± {g.stats['tokens_per_s']['std']:.1f}) | {g.peak_memory_mb or '—'} | {g.created_at:%Y-%m-%d %H:%M} |"
                  for g in points]
        lines.append("")
    if quality:
        lines += ["| metric | value | samples | dataset | reference |", "| --- | --- | --- | --- | --- |"]
        lines += [f"| {metric_title(a.metric)} | {a.value:.4g} | {a.samples} | #{a.dataset_id} | "
                  f"{'#' + str(a.reference_model_id) if a.reference_model_id else '—'} |" for a in quality]
        lines.append("")
    return "\n".join(lines)


def genai_zip(model: ModelRecord) -> bytes:
    """The openvino.genai folder <name>/ (openvino_model.xml|bin, tokenizer IRs, configs) and a README."""
    name = safe_name(model)
    readme = (f"# {model.name}\n\nAn openvino.genai model folder exported by Optimization Lab (model #{model.id}).\n\n"
              f"Run it with:\n\n    import openvino_genai\n    pipe = openvino_genai.LLMPipeline('{name}', 'CPU')\n"
              "    print(pipe.generate('Hello', max_new_tokens=32))\n\n"
              f"## Recipe\n\n```json\n{json.dumps(model.recipe, indent=2, default=str)}\n```\n\n"
              f"## Measured\n\n{generation_markdown(model.id)}")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in model_folder(model):
            archive.write(path, f"{name}/{path.name}")
        archive.writestr(f"{name}/README.md", readme)
    return buffer.getvalue()


def graph_pbtxt(options: OvmsLlmOptions, models_path: str = "./") -> str:
    """OVMS's MediaPipe graph of one LLM servable (the HttpLLMCalculator with continuous batching)."""
    settings = "\n".join(f"          {key}: {value}," for key, value in (
        ("models_path", json.dumps(models_path)), ("plugin_config", f"'{json.dumps(options.plugin_config())}'"),
        ("cache_size", options.cache_size), ("max_num_seqs", options.max_num_seqs),
        ("max_num_batched_tokens", options.max_num_batched_tokens),
        ("dynamic_split_fuse", str(options.dynamic_split_fuse).lower()),
        ("enable_prefix_caching", str(options.enable_prefix_caching).lower()), ("device", json.dumps(options.device))))
    return f"""input_stream: "HTTP_REQUEST_PAYLOAD:input"
output_stream: "HTTP_RESPONSE_PAYLOAD:output"

node: {{
  name: "LLMExecutor"
  calculator: "HttpLLMCalculator"
  input_stream: "LOOPBACK:loopback"
  input_stream: "HTTP_REQUEST_PAYLOAD:input"
  input_side_packet: "LLM_NODE_RESOURCES:llm"
  output_stream: "LOOPBACK:loopback"
  output_stream: "HTTP_RESPONSE_PAYLOAD:output"
  input_stream_info: {{
    tag_index: 'LOOPBACK:0',
    back_edge: true
  }}
  node_options: {{
      [type.googleapis.com / mediapipe.LLMCalculatorOptions]: {{
{settings}
      }}
  }}
  input_stream_handler {{
    input_stream_handler: "SyncSetInputStreamHandler",
    options {{
      [mediapipe.SyncSetInputStreamHandlerOptions.ext] {{
        sync_set {{
          tag_index: "LOOPBACK:0"
        }}
      }}
    }}
  }}
}}
"""


def ovms_llm_zip(model: ModelRecord, options: OvmsLlmOptions | None = None) -> bytes:
    """An OVMS repository serving the model on the OpenAI-compatible completions / chat endpoints:
    config.json (mediapipe_config_list), <name>/graph.pbtxt and the model folder, and a README."""
    options = options or OvmsLlmOptions()
    name = safe_name(model)
    config = {"model_config_list": [], "mediapipe_config_list": [{"name": name, "base_path": name}]}
    readme = (f"# OVMS LLM deployment: {name}\n\nExported by Optimization Lab (model #{model.id}).\n\nServe it with:\n\n"
              "    docker run --rm -p 8000:8000 -v $PWD:/workspace openvino/model_server:latest \\\n"
              "        --config_path /workspace/config.json --rest_port 8000\n\nthen ask it:\n\n"
              "    curl -s localhost:8000/v3/completions -H 'Content-Type: application/json' \\\n"
              f"        -d '{{\"model\": \"{name}\", \"prompt\": \"Hello\", \"max_tokens\": 32}}'\n\n"
              "## Continuous batching (graph.pbtxt)\n\n"
              + "\n".join(f"- `{key}`: {value}" for key, value in options.to_dict().items())
              + "\n\n`cache_size` is the KV cache in GB the server reserves: it bounds how many tokens of concurrent "
              "requests fit; `kv_cache_precision` u8 halves it per token.\n\n"
              f"## Measured in the lab (single request, greedy)\n\n{generation_markdown(model.id)}")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("config.json", json.dumps(config, indent=2))
        archive.writestr(f"{name}/graph.pbtxt", graph_pbtxt(options))
        for path in model_folder(model):
            archive.write(path, f"{name}/{path.name}")
        archive.writestr("README.md", readme)
    return buffer.getvalue()


def _generation(model_id: int, generation_id: int | None) -> GenerationRecord:
    rows = generations.list_generations(model_id)
    if not rows:
        raise BadInputError(f"Model #{model_id} has no generation benchmark stored; run one first (the Measure page, "
                            f"or `python -m core generate-bench {model_id}`).")
    chosen = rows[-1] if generation_id is None else next((g for g in rows if g.id == generation_id), None)
    if chosen is None:
        raise NotFoundError(f"Generation point #{generation_id} is not one of model #{model_id}'s; pick one of "
                            f"{', '.join(f'#{g.id}' for g in rows)}.")
    return chosen


def llm_bench_command(model: ModelRecord, generation_id: int | None = None) -> str:
    """The llm_bench run (openvino.genai's tools/llm_bench) that repeats one stored generation point:
    the same prompt (written to prompt.jsonl), as many new tokens (EOS does not stop llm_bench by
    default), as many timed iterations after one warm-up, on the same device."""
    import openvino_genai

    point = _generation(model.id, generation_id)
    folder = resolve(model.path).parent
    prompts_id = point.environment.get("prompts_id")  # the text dataset the prompt was cut from, if any
    source = "\n".join(texts(repo.get_dataset(prompts_id))) if prompts_id else FILLER
    prompt = prompt_of(openvino_genai.Tokenizer(str(folder)), point.prompt_tokens, source)
    name = safe_name(model)
    command = shlex.join(["python", "benchmark.py", "-m", name, "-d", point.device, "-n", str(point.repeats),
                          "-ic", str(point.new_tokens), "-pf", "prompt.jsonl"])
    return (f"# llm_bench repeating the lab's generation point #{point.id} of model #{model.id}: {point.input_tokens} "
            f"prompt tokens, {point.new_tokens} new tokens, {point.repeats} iterations after a warm-up.\n"
            f"# The lab measured TTFT {point.ttft_ms:.3f} ms, TPOT {point.tpot_ms:.4f} ms, {point.tokens_per_s:.1f} "
            f"tokens/s. Run in openvino.genai/tools/llm_bench, with {name}/ (the genai zip) unzipped there.\n"
            f"cat > prompt.jsonl <<'EOF'\n{json.dumps({'prompt': prompt})}\nEOF\n{command}\n")


def genai_zip_name(model: ModelRecord) -> str:
    return f"{safe_name(model)}-genai.zip"


def ovms_llm_zip_name(model: ModelRecord) -> str:
    return f"{safe_name(model)}-ovms-llm.zip"

