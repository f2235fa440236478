"""Deploying a language model (issue 14): the openvino.genai folder zip, the OVMS LLM repository
whose graph.pbtxt settings open openvino.genai's continuous-batching pipeline (the engine OVMS runs),
the llm_bench command that repeats a stored point, and the script that redoes the compression."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import zipfile

import pytest

from core.config import ASSETS_DIR, REPO_ROOT

DEMO = ASSETS_DIR / "llm" / "fortune-llama"
PROMPT = "A fool and his money"


def _greedy(new_tokens: int):
    from core.measure.generation import greedy_config

    return greedy_config(new_tokens)


@pytest.fixture
def compressed(lab_env):
    """The demo and its INT8 child made by a real job (measured by one generation point only)."""
    from core import lab
    from core.jobs.queue import supervise_job
    from core.optimize.recipes import CompressWeightsOptions
    from core.options import JobKind, MeasureOptions
    from db import repository as repo

    parent = lab.add_model_from_path(DEMO)
    job = lab.submit_optimization(kind=JobKind.COMPRESS_WEIGHTS, model_id=parent.id, dataset_id=None,
                                  options=CompressWeightsOptions(mode="int8_sym"),
                                  measure=MeasureOptions(measure_parent=False))
    supervise_job(job.id)
    job = repo.get_job(job.id)
    assert job.status == "succeeded", job.message
    return parent, repo.get_model(job.result_model_id)


def _unzip(data: bytes, folder):
    import io

    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        archive.extractall(folder)
        return archive.namelist()


def _redo(child, tmp_path):
    """Runs the model's exported NNCF script; returns the openvino_model.xml it wrote."""
    from core.deploy.export import export_model

    script = tmp_path / "reproduce.py"
    script.write_text(export_model(child.id, format="script"))
    out = tmp_path / "redone" / "openvino_model.xml"
    run = subprocess.run([sys.executable, str(script), "--out", str(out)], cwd=tmp_path, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    return out


def test_genai_zip_and_ovms_repository_run_in_openvino_genai(compressed, tmp_path):
    import openvino_genai

    from core.deploy.export import export_model
    from core.deploy.llm import graph_pbtxt, OvmsLlmOptions
    from core.errors import BadInputError
    from core.storage import resolve

    parent, child = compressed
    expected = openvino_genai.LLMPipeline(str(resolve(child.path).parent), "CPU").generate(PROMPT, _greedy(12))
    names = _unzip(export_model(child.id, format="ir"), tmp_path / "genai")
    (folder,) = {name.split("/")[0] for name in names}
    assert {f"{folder}/openvino_model.xml", f"{folder}/openvino_tokenizer.xml", f"{folder}/README.md"} <= set(names)
    unzipped = openvino_genai.LLMPipeline(str(tmp_path / "genai" / folder), "CPU")
    assert unzipped.generate(PROMPT, _greedy(12)) == expected  # the same model, the same greedy answer
    assert "tokens/s" in (tmp_path / "genai" / folder / "README.md").read_text()  # its measurement comes along

    names = _unzip(export_model(child.id, format="ovms", ovms={"cache_size": 1, "max_num_seqs": 8,
                                                               "kv_cache_precision": "u8"}), tmp_path / "ovms")
    config = json.loads((tmp_path / "ovms" / "config.json").read_text())
    (servable,) = config["mediapipe_config_list"]
    graph = (tmp_path / "ovms" / servable["base_path"] / "graph.pbtxt").read_text()
    assert graph == graph_pbtxt(OvmsLlmOptions(cache_size=1, max_num_seqs=8, kv_cache_precision="u8"))
    settings = dict(re.findall(r"^\s+(\w+): (.+),$", graph, re.MULTILINE))
    assert settings["models_path"] == '"./"' and settings["plugin_config"] == """'{"KV_CACHE_PRECISION": "u8"}'"""
    # OVMS's LLM servable is openvino.genai's continuous-batching pipeline over models_path with these settings.
    scheduler = openvino_genai.SchedulerConfig()
    scheduler.cache_size, scheduler.max_num_seqs = int(settings["cache_size"]), int(settings["max_num_seqs"])
    scheduler.max_num_batched_tokens = int(settings["max_num_batched_tokens"])
    scheduler.dynamic_split_fuse = settings["dynamic_split_fuse"] == "true"
    scheduler.enable_prefix_caching = settings["enable_prefix_caching"] == "true"
    served = openvino_genai.ContinuousBatchingPipeline(
        str(tmp_path / "ovms" / servable["base_path"] / json.loads(settings["models_path"])), scheduler,
        json.loads(settings["device"]), json.loads(settings["plugin_config"].strip("'")))
    (result,) = served.generate([PROMPT], [_greedy(12)])
    assert len(result.m_generation_ids) == 1 and result.m_generation_ids[0].strip()
    with pytest.raises(BadInputError, match="language model"):
        export_model(child.id, format="dlstreamer")
    with pytest.raises(BadInputError, match="kv_cache_precision"):
        export_model(child.id, format="ovms", ovms={"kv_cache_precision": "int3"})


def test_llm_bench_command_repeats_the_stored_point(compressed):
    import openvino_genai

    from core.deploy.export import export_model
    from core.deploy.script import safe_name
    from core.storage import resolve
    from db import generations

    _, child = compressed
    (point,) = generations.list_generations(child.id)
    text = export_model(child.id, format="llm-bench")
    prompt = json.loads(text.split("<<'EOF'\n", 1)[1].split("\nEOF\n", 1)[0])["prompt"]
    tokenizer = openvino_genai.Tokenizer(str(resolve(child.path).parent))
    assert len(tokenizer.encode(prompt, add_special_tokens=False).input_ids.data[0]) == point.input_tokens
    command = text.strip().splitlines()[-1].split()
    flags = dict(zip(command[2::2], command[3::2]))
    assert command[:2] == ["python", "benchmark.py"]
    assert flags == {"-m": safe_name(child), "-d": point.device, "-n": str(point.repeats),
                     "-ic": str(point.new_tokens), "-pf": "prompt.jsonl"}


def test_the_script_redoes_the_compression_beside_the_tokenizer(compressed, tmp_path):
    import openvino_genai

    from core.storage import resolve

    parent, child = compressed
    out = _redo(child, tmp_path)
    assert (out.parent / "openvino_tokenizer.xml").is_file() and (out.parent / "config.json").is_file()
    assert out.with_suffix(".bin").stat().st_size == resolve(child.path).with_suffix(".bin").stat().st_size
    redone = openvino_genai.LLMPipeline(str(out.parent), "CPU").generate(PROMPT, _greedy(12))
    assert redone == openvino_genai.LLMPipeline(str(resolve(child.path).parent), "CPU").generate(PROMPT, _greedy(12))


def test_cli_exports_an_ovms_llm_repository_with_settings(compressed, tmp_path):
    _, child = compressed
    target = tmp_path / "served.zip"
    run = subprocess.run([sys.executable, "-m", "core", "export", str(child.id), "--format", "ovms", "--set",
                          "kv-cache-precision=u8", "--set", "max_num_seqs=4", "--out", str(target)], cwd=REPO_ROOT,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    with zipfile.ZipFile(target) as archive:
        graph = next(archive.read(n).decode() for n in archive.namelist() if n.endswith("graph.pbtxt"))
    assert "max_num_seqs: 4," in graph and "KV_CACHE_PRECISION" in graph
    run = subprocess.run([sys.executable, "-m", "core", "export", str(child.id), "--format", "ovms", "--set",
                          "cache=4"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and "cache_size" in run.stderr


def test_the_script_of_a_data_aware_compression_calibrates_on_the_same_texts(lab_env, tmp_path):
    from core import lab
    from core.intake.sources import add_data_from_path
    from core.jobs.queue import supervise_job
    from core.optimize.recipes import CompressWeightsOptions
    from core.options import JobKind, MeasureOptions
    from core.storage import resolve
    from db import repository as repo

    parent = lab.add_model_from_path(DEMO)
    rows = [json.loads(line)["text"] for line in (ASSETS_DIR / "llm" / "fortunes_texts.jsonl").open()][:20]
    source = tmp_path / "calibration.jsonl"
    source.write_text("".join(json.dumps({"text": row}) + "\n" for row in rows))
    texts = add_data_from_path(source)
    job = lab.submit_optimization(kind=JobKind.COMPRESS_WEIGHTS, model_id=parent.id, dataset_id=texts.id,
                                  options=CompressWeightsOptions(mode="int4_asym", group_size=64, use_data=True, awq=True,
                                                                 scale_estimation=True, subset_size=12),
                                  measure=MeasureOptions(measure_parent=False))
    supervise_job(job.id)
    job = repo.get_job(job.id)
    assert job.status == "succeeded", job.message
    child = repo.get_model(job.result_model_id)
    out = _redo(child, tmp_path)
    # The same 12 texts, tokenized the same way: AWQ and scale estimation land on the same weights.
    assert out.with_suffix(".bin").read_bytes() == resolve(child.path).with_suffix(".bin").read_bytes()


def test_a_generation_point_cut_from_a_prompt_set_is_repeated_by_llm_bench_with_that_text(lab_env, tmp_path):
    from core import lab
    from core.deploy.export import export_model
    from core.intake.sources import add_data_from_path
    from core.jobs.queue import supervise_job
    from core.measure.options import GenerationBenchOptions
    from db import generations, repository as repo

    model = lab.add_model_from_path(DEMO)
    source = tmp_path / "prompts.txt"
    source.write_text("Never trust a computer you cannot throw out a window.\nAll generalizations are false.\n")
    prompts = add_data_from_path(source)
    job = lab.submit_generate_bench(model_id=model.id, options=GenerationBenchOptions(
        prompt_tokens=(24,), new_tokens=(8,), repeats=1, warmup=0, prompts_id=prompts.id))
    supervise_job(job.id)
    assert repo.get_job(job.id).status == "succeeded", repo.get_job(job.id).message
    (point,) = generations.list_generations(job_id=job.id)
    assert point.environment["prompts_id"] == prompts.id and point.input_tokens == 24
    text = export_model(model.id, format="llm-bench")
    prompt = json.loads(text.split("<<'EOF'\n", 1)[1].split("\nEOF\n", 1)[0])["prompt"]
    assert prompt.startswith("Never trust a computer") and "All generalizations" in prompt  # the set, not filler
