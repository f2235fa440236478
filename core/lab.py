"""The facade the pages and the CLI call: bring models and data in, set up the demo, submit jobs.

Below it, core/ is layered (core/README.md): intake brings files in under the data dir (a failed
import removes what it started, everything stored before stays untouched), jobs queue the work.
This module checks that inputs fit together before anything is queued.
"""

from __future__ import annotations

import dataclasses

from core.compare import ab as compare_ab
from core.config import ASSETS_DIR, get_settings
from core.errors import BadInputError
from core.intake.cleanup import UPLOADS
from core.intake.datasets import add_image_dataset, add_image_dataset_from_path
from core.intake.files import save_upload
from core.intake.model_intake import add_model, add_model_from_path, add_torch_source, delete_model
from core.intake.llm import is_llm
from core.intake.models import operations_by_type
from core.intake.data_tables import TEXT_FORMAT
from core.intake.sources import add_data, check_data_file, open_dataset, texts
from core.jobs import runner as jobs
from core.jobs.handlers.training import source_of
from core.jobs.recovery import Recovery, recovery
from core.jobs.runner import routed_to
from core.optimize.torch_program import has_torch
from core.measure.options import BatchSweepOptions, GenerationBenchOptions, InterleavedOptions, ProfileOptions
from core.optimize.recipes import ALGORITHM_OPTIONS, QuantizeOptions, SensitivityOptions, SweepOptions
from core.options import BenchmarkOptions, EvaluateOptions, ImagePreprocessing, JobKind, MeasureOptions
from core.storage import claim_folder, new_folder, relative, resolve
from core.tasks.registry import labels_for, model_task, set_task
from db import repository as repo
from db.records import DatasetRecord, JobRecord, ModelRecord

# The intake operations the pages call, named here so that pages and the CLI need only this module.
__all__ = ["add_image_dataset", "add_image_dataset_from_path", "add_model", "add_model_from_path", "delete_model",
           "ensure_demo", "ensure_llm_demo", "submit_model_import", "is_language_model", "is_text", "is_text_encoder", "submit_generate_bench", "model_operations", "model_task", "set_task", "submit_evaluate", "submit_sensitivity", "submit_ignoring_worst", "submit_optimization", "submit_sweep", "submit_batch_sweep",
           "submit_profile", "submit_interleaved", "submit_missing_profiles", "submit_import",
           "routed_to"]  # pages send a job to a target (a queue) with `with lab.routed_to(queue):`
DEMO_MODEL = "fashion-cnn (demo)"
DEMO_CALIBRATION = "fashion-mnist calibration (demo)"
DEMO_VALIDATION = "fashion-mnist validation (demo)"
LLM_DEMO_MODEL = "fortune-llama (LLM demo)"
LLM_DEMO_TEXTS = "fortunes texts (LLM demo)"
LLM_DEMO_PROMPTS = "fortunes prompts (LLM demo)"


def ensure_demo() -> tuple[ModelRecord, DatasetRecord, DatasetRecord]:
    """Registers the bundled demo model and data once; returns (model, calibration, validation)."""
    demo = ASSETS_DIR / "demo"
    model = repo.find_model(DEMO_MODEL)
    if model is None:
        model = add_model_from_path(demo / "fashion_cnn.onnx", name=DEMO_MODEL)
        if has_torch():  # its PyTorch form, which QAT and pruning train
            add_torch_source(model.id, demo / "fashion_cnn.pt2")
    calibration = repo.find_dataset(DEMO_CALIBRATION) or add_image_dataset_from_path(
        demo / "fashion_calibration.zip", name=DEMO_CALIBRATION)
    validation = repo.find_dataset(DEMO_VALIDATION) or add_image_dataset_from_path(
        demo / "fashion_validation.zip", name=DEMO_VALIDATION)
    return model, calibration, validation


def ensure_llm_demo() -> tuple[ModelRecord, DatasetRecord, DatasetRecord]:
    """Registers the bundled LLM demo once (assets/llm: a small Llama trained on Debian's fortunes);
    returns (model, texts for perplexity and calibration, prompts for similarity and generation)."""
    demo = ASSETS_DIR / "llm"
    model = repo.find_model(LLM_DEMO_MODEL) or add_model_from_path(demo / "fortune-llama", name=LLM_DEMO_MODEL)
    found = []
    for name, file in ((LLM_DEMO_TEXTS, "fortunes_texts.jsonl"), (LLM_DEMO_PROMPTS, "fortunes_prompts.jsonl")):
        if (dataset := repo.find_dataset(name)) is None:
            with (demo / file).open("rb") as handle:
                dataset = add_data((file, handle), name=name, text_column="text")
        found.append(dataset)
    return model, found[0], found[1]


def submit_import(upload: tuple, *, name: str | None = None, label_column: str | None = None,
                  columns: dict[str, list[str]] | None = None,
                  preprocessing: ImagePreprocessing | None = None, annotations: tuple | None = None,
                  task: str | None = None, text_column: str | None = None) -> JobRecord:
    """Saves an upload (file name, bytes or stream) and queues the job that imports it as a dataset.

    The arguments are core.intake.sources.add_data's, which the job calls (annotations: a file
    beside an image zip, e.g. COCO instances.json; task: refuse data whose labels do not fit it); a
    file of no known kind, an empty one or one over the upload limit is refused here, before
    anything is queued.
    """
    file_name = str(upload[0])
    check_data_file(file_name)
    labels = labels_for(task)
    with new_folder(UPLOADS, file_name) as folder:
        limit = get_settings().max_upload_bytes
        saved = save_upload(upload[1], folder, file_name, max_bytes=limit)
        beside = save_upload(annotations[1], folder / "annotations", str(annotations[0]), max_bytes=limit) \
            if annotations else None
        job = jobs.submit(JobKind.IMPORT_DATA, {
            "upload": relative(saved), "file_name": file_name, "name": name, "label_column": label_column,
            "columns": columns, "preprocessing": (preprocessing or ImagePreprocessing()).to_dict(),
            "annotations": relative(beside) if beside else None, "labels": list(labels) if labels else None,
            "text_column": text_column})
        try:
            claim_folder(folder, job.id)  # the worker's recovery round removes it should the job be killed
        except FileNotFoundError:
            pass  # the job has already run and removed it
    return job


def submit_model_import(files: list[tuple], *, name: str | None = None) -> JobRecord:
    """Saves uploaded model files (name, bytes or stream) and queues the job that imports them with
    add_model: for zips, which may hold a Hugging Face checkpoint whose conversion takes minutes."""
    if not files:
        raise BadInputError("Choose the model file(s) first.")
    limit = get_settings().max_upload_bytes
    with new_folder(UPLOADS, str(files[0][0])) as folder:
        saved = [save_upload(data, folder, str(file_name), max_bytes=limit) for file_name, data in files]
        job = jobs.submit(JobKind.IMPORT_MODEL, {"uploads": [relative(path) for path in saved], "name": name})
        try:
            claim_folder(folder, job.id)  # the worker's recovery round removes it should the job be killed
        except FileNotFoundError:
            pass  # the job has already run and removed it
    return job


def is_language_model(model: ModelRecord) -> bool:
    """Whether the model is an openvino.genai folder (judged by generation, perplexity and similarity)."""
    return is_llm(resolve(model.path))


def is_text_encoder(model: ModelRecord) -> bool:
    """Whether the model is a language model that encodes text rather than generating it."""
    return is_language_model(model) and not model.recipe.get("llm", {}).get("causal", True)


def is_text(dataset: DatasetRecord) -> bool:
    """Whether the dataset holds texts or prompts (for language models) rather than tensors."""
    return dataset.format == TEXT_FORMAT


def model_operations(model_id: int) -> dict[str, list[str]]:
    """The model's compute operations by type, for picking an ignored scope."""
    return operations_by_type(resolve(repo.get_model(model_id).path))


def _check_static(model: ModelRecord) -> None:
    """Refuses a model whose inputs have a dynamic dimension besides the batch (before anything is
    queued): it would be optimized, then fail to benchmark, leaving an unmeasured child."""
    for port in model.inputs:
        shape, layout = port["shape"], port.get("layout", "")
        batch = layout.index("N") if "N" in layout else 0
        if any(dim < 0 for index, dim in enumerate(shape) if index != batch):
            shown = "[" + ",".join("?" if d < 0 else str(d) for d in shape) + "]"
            example = ",".join(str(d) if d > 0 else "1" if i == batch else "224" for i, d in enumerate(shape))
            raise BadInputError(
                f"Model #{model.id} '{model.name}' input '{port['name']}' has the dynamic shape {shown}; only the "
                "batch dimension can stay dynamic for calibration and benchmarks. Set the shape first: 'Set shape' "
                f"on the Models page, or `python -m core set-shape {model.id} --shape {port['name']}={example}` "
                "(either stores a child with that shape), then optimize the child.")


def _check_fits(model: ModelRecord, dataset_ids: list[int | None]) -> None:
    """Raises a clear error when the model cannot be measured as it is, or a dataset cannot feed it
    (before anything is queued)."""
    _check_static(model)
    for dataset_id in filter(None, dataset_ids):
        open_dataset(repo.get_dataset(dataset_id), model)


def submit_optimization(*, kind: JobKind, model_id: int, dataset_id: int | None, options,
                        measure: MeasureOptions, idempotency_key: str | None = None) -> JobRecord:
    """Checks the inputs fit together, then queues one optimization job (quantize, compress, ...)."""
    model = repo.get_model(model_id)
    if kind in (JobKind.QAT, JobKind.PRUNE):
        _check_trainable(model, kind, dataset_id)
    if is_llm(resolve(model.path)):
        _check_llm_optimization(model, kind, options, measure, dataset_id)
    else:
        _check_fits(model, [dataset_id, measure.dataset_id, getattr(options, "validation_dataset_id", None)])
    return jobs.submit(kind, {"recipe": options.to_dict(), "measure": measure.to_dict()},
                       model_id=model_id, dataset_id=dataset_id, idempotency_key=idempotency_key)


def recovery_for(job_id: int) -> Recovery | None:
    """The QAT proposed for an INT8 PTQ job that lost more than its max drop (core.jobs.recovery)."""
    return recovery(repo.get_job(job_id))


def submit_recovery(job_id: int, *, idempotency_key: str | None = None) -> JobRecord:
    """Queues the QAT recovery_for(job_id) proposes, measured as the PTQ job was."""
    found = recovery_for(job_id)
    if found is None:
        raise BadInputError(f"Job #{job_id} is no INT8 quantization whose child lost more than its max drop on "
                            "measured validation data, so there is no accuracy to recover. QAT runs all the same "
                            "from the Optimize page or `python -m core qat MODEL --data ID --validate ID`.")
    if found.blocker:
        raise BadInputError(found.blocker)
    previous = MeasureOptions.from_dict(repo.get_job(job_id).options.get("measure", {}))
    return submit_optimization(kind=JobKind.QAT, model_id=found.model_id, dataset_id=found.dataset_id,
                               options=found.options, idempotency_key=idempotency_key,
                               measure=MeasureOptions(dataset_id=found.validation_id, seconds=previous.seconds,
                                                      device=previous.device))


def _check_trainable(model: ModelRecord, kind: JobKind, dataset_id: int | None) -> None:
    """QAT and pruning fine-tune the model's .pt2 in PyTorch on a dataset."""
    source_of(model)
    if dataset_id is None:
        raise BadInputError(f"{'QAT' if kind == JobKind.QAT else 'Pruning'} fine-tunes the model on data: choose a "
                            "training dataset (--data); "
                            "with class labels it learns them, without it learns the parent's outputs.")


def _check_llm(model: ModelRecord, dataset_id: int | None = None) -> None:
    """Refuses a model that is no language model folder, or a dataset that holds no texts."""
    if not is_llm(resolve(model.path)):
        raise BadInputError(f"Model #{model.id} '{model.name}' is not a language model (an openvino.genai folder with "
                            "its tokenizer IRs); add a Hugging Face checkpoint or an exported folder.")
    if not model.recipe.get("llm", {}).get("causal", True):
        raise BadInputError(f"'{model.name}' is a text encoder ({', '.join(model.recipe['llm'].get('architectures') or [])}"
                            "): it generates nothing, so it has no generation speed, perplexity or answers. Compress "
                            "it on the Optimize page: the job measures its latency at 128 tokens and the cosine of "
                            "its embeddings of the texts with its parent's.")
    if dataset_id is not None:
        texts(repo.get_dataset(dataset_id))  # raises for data that is not texts


def _check_llm_optimization(model: ModelRecord, kind: JobKind, options, measure: MeasureOptions,
                            dataset_id: int | None) -> None:
    """A language model takes weight compression (data-aware on calibration texts, or data-free) and
    FP16; its calibration and measurement data are texts."""
    if kind not in (JobKind.COMPRESS_WEIGHTS, JobKind.FP16):
        raise BadInputError(f"'{model.name}' is a language model: compress its weights (INT8 / INT4 / NF4 ...) or "
                            "store FP16 weights; full INT8 quantization and accuracy control take tensor data.")
    if getattr(options, "use_data", False) and dataset_id is None:
        raise BadInputError("Data-aware weight compression (AWQ, scale estimation, GPTQ, LoRA correction, "
                            "activation sensitivity) calibrates on texts: choose a text dataset (--data).")
    for used in filter(None, (dataset_id if getattr(options, "use_data", False) else None, measure.dataset_id,
                              measure.prompts_id)):
        texts(repo.get_dataset(used))


def submit_generate_bench(*, model_id: int, options: GenerationBenchOptions,
                          idempotency_key: str | None = None) -> JobRecord:
    """Queues a generation benchmark (prompt tokens x new tokens grid) of a language model, or an
    interleaved A/B of two (options.versus_model_id)."""
    _check_llm(repo.get_model(model_id), options.prompts_id)
    if options.versus_model_id is not None:
        if options.versus_model_id == model_id:
            raise BadInputError("An A/B compares two models; pick another model as B.")
        _check_llm(repo.get_model(options.versus_model_id))
    return jobs.submit(JobKind.GENERATE_BENCH, options.to_dict(), model_id=model_id, idempotency_key=idempotency_key)


def submit_evaluate(*, model_id: int, options: EvaluateOptions, idempotency_key: str | None = None) -> JobRecord:
    """Queues an evaluation of a model on its task: against the dataset's labels, or against
    options.reference_model_id's outputs (checked to fit first). A language model is scored by
    word perplexity on texts, or by the similarity of its answers to a prompt set with its parent's."""
    model = repo.get_model(model_id)
    if is_llm(resolve(model.path)) or options.metric:
        _check_llm(model, options.dataset_id)
        if (options.metric == "similarity" or options.reference_model_id) and not (
                options.reference_model_id or model.parent_id):
            raise BadInputError(f"'{model.name}' has no parent; similarity compares its answers with a reference "
                                "model's: give one (--reference).")
        if options.reference_model_id:
            _check_llm(repo.get_model(options.reference_model_id))
        return jobs.submit(JobKind.EVALUATE, options.to_dict(), model_id=model_id, dataset_id=options.dataset_id,
                           idempotency_key=idempotency_key)
    _check_fits(model, [options.dataset_id])
    if options.reference_model_id is not None:
        reference = repo.get_model(options.reference_model_id)
        if [p["name"] for p in reference.outputs] != [p["name"] for p in model.outputs]:
            raise BadInputError(f"'{reference.name}' and '{model.name}' have different outputs; a reference "
                                "model has the same outputs (its parent, or a sibling optimization).")
    return jobs.submit(JobKind.EVALUATE, options.to_dict(), model_id=model_id, dataset_id=options.dataset_id,
                       idempotency_key=idempotency_key)


def submit_sensitivity(*, model_id: int, dataset_id: int, options: SensitivityOptions,
                       idempotency_key: str | None = None) -> JobRecord:
    """Queues a layer-sensitivity ranking of a model's INT8 layers on its task metric."""
    _check_fits(repo.get_model(model_id), [dataset_id, options.validation_dataset_id])
    return jobs.submit(JobKind.SENSITIVITY, options.to_dict(), model_id=model_id, dataset_id=dataset_id,
                       idempotency_key=idempotency_key)


def submit_ignoring_worst(sensitivity_id: int, model_id: int, ks: list[int], *, measure: MeasureOptions,
                          max_drop: float | None = None, idempotency_key: str | None = None) -> JobRecord:
    """INT8 of the ranked model with its k most costly layers in float (one k: a quantize job; several:
    a sweep, one child per k, each on the Compare chart; with max_drop the sweep stops at the first k
    whose drop in the ranking's metric is at most max_drop). The ranking's calibration options are kept."""
    ranking = next((r for r in repo.list_sensitivities(model_id) if r.id == sensitivity_id), None)
    if ranking is None:
        raise BadInputError(f"Model #{model_id} has no sensitivity ranking #{sensitivity_id}; rank its layers first.")
    names = [layer["name"] for layer in ranking.layers]
    if not ks or min(ks) < 1 or max(ks) > len(names):
        raise BadInputError(f"The ranking has {len(names)} layers; keep between 1 and {len(names)} of them in float.")
    job = repo.get_job(ranking.job_id) if ranking.job_id else None
    quantize_fields = {f.name for f in dataclasses.fields(QuantizeOptions)}
    base = {k: v for k, v in (job.options if job else {}).items() if k in quantize_fields}
    dataset_id = job.dataset_id if job else measure.dataset_id
    if len(ks) == 1:
        options = QuantizeOptions.from_dict({**base, "ignored_names": names[:ks[0]]})
        return submit_optimization(kind=JobKind.QUANTIZE, model_id=model_id, dataset_id=dataset_id, options=options,
                                   measure=measure, idempotency_key=idempotency_key)
    sweep = SweepOptions(algorithm=JobKind.QUANTIZE, base=base, grid={"ignored_names": [names[:k] for k in sorted(ks)]},
                         stop_metric=ranking.metric if max_drop is not None else None, stop_max_drop=max_drop)
    return submit_sweep(sweep=sweep, model_id=model_id, dataset_id=dataset_id, measure=measure,
                        idempotency_key=idempotency_key)


def submit_sweep(*, sweep: SweepOptions, model_id: int, dataset_id: int | None, measure: MeasureOptions,
                 idempotency_key: str | None = None) -> JobRecord:
    """Queues one sweep job; it runs every point of sweep as a child job of its own."""
    model = repo.get_model(model_id)
    validation_ids = {p.get("validation_dataset_id") for p in sweep.points()}
    if is_llm(resolve(model.path)):
        for point in sweep.points():
            _check_llm_optimization(model, sweep.algorithm, ALGORITHM_OPTIONS[sweep.algorithm].from_dict(point),
                                    measure, dataset_id)
    else:
        _check_fits(model, [dataset_id, measure.dataset_id, *validation_ids])
    return jobs.submit(JobKind.SWEEP, {"sweep": sweep.to_dict(), "measure": measure.to_dict()},
                       model_id=model_id, dataset_id=dataset_id, idempotency_key=idempotency_key)


def submit_batch_sweep(*, model_id: int, options: BatchSweepOptions, idempotency_key: str | None = None) -> JobRecord:
    """Queues a batch sweep / grid of one model (checks it exists and has static shapes first)."""
    _check_static(repo.get_model(model_id))
    return jobs.submit(JobKind.BATCH_SWEEP, options.to_dict(), model_id=model_id, idempotency_key=idempotency_key)


def submit_profile(*, model_id: int, options: ProfileOptions, idempotency_key: str | None = None) -> JobRecord:
    """Queues a per-layer profile run of one model."""
    _check_static(repo.get_model(model_id))
    return jobs.submit(JobKind.PROFILE, options.to_dict(), model_id=model_id, idempotency_key=idempotency_key)


def submit_interleaved(key_a: str, key_b: str, *, benchmark: BenchmarkOptions, rounds: int = 3,
                       idempotency_key: str | None = None) -> JobRecord:
    """Queues an interleaved A B A B benchmark of rows A and B, each at its row's precision."""
    (model_a, precision_a), (model_b, precision_b) = compare_ab.parse_key(key_a), compare_ab.parse_key(key_b)
    _check_static(repo.get_model(model_a)), _check_static(repo.get_model(model_b))
    options = InterleavedOptions(model_b_id=model_b, precision_a=compare_ab.precision_option(precision_a),
                                 precision_b=compare_ab.precision_option(precision_b), rounds=rounds,
                                 benchmark=benchmark)
    return jobs.submit(JobKind.INTERLEAVED, options.to_dict(), model_id=model_a, idempotency_key=idempotency_key)


def submit_missing_profiles(key_a: str, key_b: str, *, idempotency_key: str) -> list[JobRecord]:
    """Queues a profile job for each of A and B that has no stored profile, each at its row's precision."""
    submitted = []
    for key in compare_ab.missing_profiles(key_a, key_b):
        model_id, precision = compare_ab.parse_key(key)
        options = ProfileOptions(precision=compare_ab.precision_option(precision))
        submitted.append(submit_profile(model_id=model_id, options=options, idempotency_key=f"{idempotency_key}-{key}"))
    return submitted
