"""Accuracy metrics where users decide (issue 5/6): every stored metric on Compare and the model page,
the A/B view's interleaved ratio job and per-layer diff of real profiles of a model and its INT8 child."""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from core import lab
from core.compare import ab as compare_ab
from core.compare import table as compare
from core.compare.figures import accuracy_figure
from core.config import REPO_ROOT
from core.jobs import runner as jobs
from core.measure.accuracy_tables import model_accuracy
from core.options import BenchmarkOptions, JobKind, JobStatus
from db import repository as repo
from tests.stored_results import store_benchmark
from tests.test_compare import measured_lab  # noqa: F401  (fixture)
from tests.test_measure import int8_pair  # noqa: F401  (fixture)

LAYERS_A = [{"name": "conv", "layer_type": "Convolution", "exec_type": "brgconv_avx512_amx_bf16", "precision": "bf16",
             "time_ms": 1.0},
            {"name": "fc", "layer_type": "FullyConnected", "exec_type": "brgemm_avx512_amx_bf16", "precision": "bf16",
             "time_ms": 0.2}]
LAYERS_B = [{**LAYERS_A[0], "exec_type": "brgconv_avx512_amx_I8", "precision": "i8", "time_ms": 0.3},
            {**LAYERS_A[1], "time_ms": 0.25}]


@pytest.fixture
def metrics_lab(measured_lab):  # noqa: F811
    """measured_lab plus top-5 of both and the child's agreement with its parent."""
    parent, child = measured_lab
    dataset = repo.add_dataset(name="val", format="image-folder", path="datasets/none", samples=100,
                               has_labels=True, classes=[], preprocessing={})
    for model, value in ((parent, 0.99), (child, 0.97)):
        repo.add_accuracy(model_id=model.id, dataset_id=dataset.id, metric="top5", value=value, samples=100,
                          precision="bf16")
    for metric, value in (("top1_agreement", 0.95), ("cosine", 0.999), ("mse", 0.002), ("max_abs_error", 0.3)):
        repo.add_accuracy(model_id=child.id, dataset_id=dataset.id, metric=metric, value=value, samples=50,
                          precision="bf16", reference_model_id=parent.id)
    return parent, child, dataset


def _execute(job_id: int) -> None:
    """Runs a submitted job in this process through the real handler table."""
    assert repo.claim_job(job_id, pid=1)
    assert jobs.execute(job_id, jobs.Reporter(job_id)), repo.get_job(job_id).message


def test_rows_carry_every_stored_metric_and_the_figure_plots_the_chosen_one(metrics_lab):
    parent, child, _ = metrics_lab
    rows = {r["key"]: r for r in compare.results_rows()}
    int8 = rows[f"{child.id}:bf16"]
    assert (int8["top5"], int8["top1_agreement"], int8["mse"], int8["reference"]) == (0.97, 0.95, 0.002, "net")
    assert rows[f"{parent.id}:f32"]["top5"] is None and rows[f"{parent.id}:bf16"]["reference"] == ""
    assert compare.accuracy_metrics(list(rows.values())) == [
        "top1", "top5", "top1_agreement", "cosine", "mse", "max_abs_error"]
    table = compare.table_frame(list(rows.values()))
    assert table["top5"].tolist()[2] == pytest.approx(97.0) and table["mse"].tolist()[2] == 0.002
    figure = accuracy_figure(list(rows.values()), metric="top5")
    assert figure.layout.yaxis.title.text == "top-5 (%)"
    assert sorted(y for trace in figure.data[:-1] for y in trace.y) == pytest.approx([97.0, 99.0])
    # MSE: lower is better, so the one row with it is its own front.
    assert [r["key"] for r in compare.front_rows(list(rows.values()), metric="mse")] == [f"{child.id}:bf16"]


def test_ab_table_shows_agreement_metrics_with_the_reference(metrics_lab):
    parent, child, _ = metrics_lab
    ab = {r["metric"]: r for r in compare.ab_comparison(compare.results_rows(), f"{parent.id}:bf16",
                                                        f"{child.id}:bf16")}
    assert (ab["top-5 (%)"]["A"], ab["top-5 (%)"]["B"]) == ("99.00", "97.00")
    assert ab["top-1 agreement with parent (%)"]["B"] == "95.00" and ab["top-1 agreement with parent (%)"]["A"] == "—"
    assert ab["MSE vs parent"]["B"] == "0.002" and ab["agreement reference"]["B"] == "net"


def test_model_page_table_lists_metrics_per_dataset_with_the_reference(metrics_lab):
    parent, child, dataset = metrics_lab
    table = model_accuracy(child.id)
    assert [r["metric"] for r in table][:3] == ["top-1 (%)", "top-5 (%)", "top-1 agreement with parent (%)"]
    top5 = next(r for r in table if r["metric"] == "top-5 (%)")
    assert (top5["dataset"], top5["split"], top5["value"], top5["reference"]) == ("val", "all", 97.0, "labels")
    mse = next(r for r in table if r["metric"] == "MSE vs parent")
    assert (mse["reference"], mse["value"], mse["samples"]) == ("net", 0.002, 50)
    at = AppTest.from_file(str(REPO_ROOT / "pages" / "models.py"), default_timeout=60).run()
    at.selectbox[0].set_value(next(o for o in at.selectbox[0].options if o.endswith("net INT8"))).run()
    assert not at.exception, at.exception
    shown = next(d.value for d in at.dataframe if "reference" in d.value.columns)
    assert "cosine similarity with parent" in shown["metric"].tolist()


def test_layer_diff_of_real_profiles_of_a_model_and_its_int8_child(lab_env, int8_pair):  # noqa: F811
    fp32_path, int8_path = int8_pair
    parent = lab.add_model_from_path(fp32_path, name="fp32")
    copy = lab.add_model_from_path(int8_path, name="int8 file")
    child = repo.add_model(name="fp32 INT8", format="openvino-ir", path=copy.path, size_bytes=copy.size_bytes,
                           inputs=copy.inputs, outputs=copy.outputs, parent_id=parent.id, recipe={"algorithm": "quantize"})
    key_a, key_b = f"{parent.id}:f32", f"{child.id}:f32"
    assert compare_ab.layer_diff(key_a, key_b) is None
    assert compare_ab.missing_profiles(key_a, key_b) == [key_a, key_b]
    submitted = lab.submit_missing_profiles(key_a, key_b, idempotency_key="t")
    assert [(j.kind, j.model_id, j.options["precision"]) for j in submitted] == [
        ("profile", parent.id, "f32"), ("profile", child.id, "f32")]
    for job in submitted:
        _execute(job.id)
    assert compare_ab.missing_profiles(key_a, key_b) == []
    diff = compare_ab.layer_diff(key_a, key_b)
    conv = diff.set_index("layer_type").loc["Convolution"]
    assert conv["precisions_a"] == "f32" and set(conv["precisions_b"].split(", ")) & {"i8", "u8"}
    assert conv["time_a_ms"] > 0 and conv["time_b_ms"] > 0
    deltas = diff["time_delta_ms"].abs().tolist()
    assert deltas == sorted(deltas, reverse=True)
    assert diff["float_in_b"].tolist() == [bool({"f32", "bf16"} & set(p.split(", "))) for p in diff["precisions_b"]]


def test_interleaved_job_stores_both_sides_per_round_and_the_ratio_spread(lab_env, classifier_ir):
    a = lab.add_model_from_path(classifier_ir, name="a")
    b = lab.add_model_from_path(classifier_ir, name="b")
    key_a, key_b = f"{a.id}:f32", f"{b.id}:f32"
    assert compare_ab.interleaved_summary(key_a, key_b) == []
    job = lab.submit_interleaved(key_a, key_b, benchmark=BenchmarkOptions(seconds=0.2), rounds=2,
                                        idempotency_key="ab")
    assert job.kind == JobKind.INTERLEAVED and job.options["precision_a"] == "f32"
    _execute(job.id)
    assert repo.get_job(job.id).status == JobStatus.SUCCEEDED
    tags = [(r.model_id, r.environment["interleaved"]["round"], r.environment["interleaved"]["side"])
            for r in repo.list_benchmarks() if r.job_id == job.id]
    assert tags == [(a.id, 0, "A"), (b.id, 0, "B"), (a.id, 1, "A"), (b.id, 1, "B")]
    latency, throughput = compare_ab.interleaved_summary(key_a, key_b)
    assert latency["ratio"] == "median latency B / A" and throughput["ratio"] == "throughput B / A"
    for row in (latency, throughput):
        assert row["rounds"] == 2 and row["job"] == job.id and 0 < row["min"] <= row["median"] <= row["max"]
    assert compare_ab.interleaved_summary(key_b, key_a) == [], "B vs A is another comparison"
    for model in (a, b):  # A/B runs are not the table's measurements: give each row a plain one
        store_benchmark(model.id, precision="f32")
    at = compare_page().run()  # two unrelated models: two families, one shown at a time
    next(s for s in at.selectbox if s.label.startswith("Model family")).set_value("all families").run()
    next(s for s in at.selectbox if s.label == "A").set_value(key_a).run()
    next(s for s in at.selectbox if s.label == "B").set_value(key_b).run()
    assert not at.exception, at.exception
    shown = next(d.value for d in at.dataframe if "ratio" in d.value.columns)
    assert shown["median"].tolist() == pytest.approx([latency["median"], throughput["median"]])


def test_a_rerun_interleaved_job_measures_only_the_rounds_it_lacks(lab_env, classifier_ir):
    from sqlalchemy import delete

    from core.jobs.handlers.measure import run_interleaved_job
    from db import models as orm
    from db.session import session_scope

    a = lab.add_model_from_path(classifier_ir, name="a")
    b = lab.add_model_from_path(classifier_ir, name="b")
    job = lab.submit_interleaved(f"{a.id}:f32", f"{b.id}:f32", benchmark=BenchmarkOptions(seconds=0.2),
                                        rounds=3, idempotency_key="ab")
    _execute(job.id)

    def tags() -> list[tuple[int, int, str]]:
        return [(r.id, r.environment["interleaved"]["round"], r.environment["interleaved"]["side"])
                for r in repo.list_benchmarks() if r.job_id == job.id]

    lost = next(row_id for row_id, round_number, side in tags() if (round_number, side) == (1, "B"))
    with session_scope() as s:  # as if the worker died after round 1's A run
        s.execute(delete(orm.BenchmarkResult).where(orm.BenchmarkResult.id == lost))
    before = {row_id for row_id, _, _ in tags()}
    run_interleaved_job(repo.get_job(job.id), jobs.Reporter(job.id))  # what the re-run attempt does
    assert sorted((r, side) for row_id, r, side in tags() if row_id not in before) == [(1, "A"), (1, "B")]
    run_interleaved_job(repo.get_job(job.id), jobs.Reporter(job.id))  # complete: nothing more to measure
    assert len(tags()) == 7
    (latency, _) = compare_ab.interleaved_summary(f"{a.id}:f32", f"{b.id}:f32")
    assert latency["rounds"] == 3


def compare_page() -> AppTest:
    return AppTest.from_file(str(REPO_ROOT / "pages" / "compare.py"), default_timeout=60)


def test_compare_page_metric_selector_and_top5_column(metrics_lab):
    at = compare_page().run()
    assert not at.exception, at.exception
    selector = next(s for s in at.selectbox if s.label == "Accuracy metric")
    assert selector.value == "top1" and selector.options[:2] == ["top-1 (%)", "top-5 (%)"]
    assert at.dataframe[0].value["top5"].fillna(-1).tolist() == [99.0, -1, 97.0]  # in %, parent f32 has none
    selector.set_value("top5").run()
    assert not at.exception, at.exception
    assert next(s for s in at.selectbox if s.label == "Accuracy metric").value == "top5"
    spec = json.loads(next(iter(at.get("plotly_chart"))).proto.spec)
    assert spec["layout"]["yaxis"]["title"]["text"] == "top-5 (%)"
    assert sorted(y for trace in spec["data"] if not trace["name"].startswith("Pareto front") for y in trace["y"]) == [97.0, 99.0]


def test_compare_ab_view_shows_agreement_layer_diff_and_submits_jobs(metrics_lab):
    parent, child, _ = metrics_lab
    repo.add_profile(model_id=parent.id, device="CPU", precision="bf16", total_ms=1.2, layers=LAYERS_A)
    at = compare_page().run()
    next(s for s in at.selectbox if s.label == "A").set_value(f"{parent.id}:bf16").run()
    assert not at.exception, at.exception
    ab = next(d.value for d in at.dataframe if "B / A" in d.value.columns).set_index("metric")
    assert ab.loc["top-1 agreement with parent (%)", "B"] == "95.00" and ab.loc["agreement reference", "B"] == "net"
    assert any("No stored profile of net INT8 @ bf16" in i.value for i in at.info)
    next(b for b in at.button if b.label == "Run missing profile(s)").click().run()
    assert [(j.kind, j.model_id) for j in repo.list_jobs()] == [("profile", child.id)]

    repo.add_profile(model_id=child.id, device="CPU", precision="bf16", total_ms=0.55, layers=LAYERS_B)
    at = compare_page().run()
    next(s for s in at.selectbox if s.label == "A").set_value(f"{parent.id}:bf16").run()
    diff = next(d.value for d in at.dataframe if "layer_type" in d.value.columns)
    assert diff["layer_type"].tolist() == ["Convolution", "FullyConnected"]  # largest difference first
    assert diff["precisions_b"].tolist() == ["i8", "bf16"] and diff["float_in_b"].tolist() == [False, True]
    next(b for b in at.button if b.label == "Run interleaved A/B").click().run()
    assert not at.exception, at.exception
    interleaved = repo.list_jobs()[0]
    assert interleaved.kind == "interleaved" and interleaved.model_id == parent.id
    assert (interleaved.options["model_b_id"], interleaved.options["precision_b"]) == (child.id, "bf16")


def test_a_job_measuring_a_classifier_with_labels_stores_top5_beside_top1(lab_env):
    from core.jobs.handlers.optimize import measure
    from core.options import MeasureOptions, Precision

    demo, _, validation = lab.ensure_demo()
    job, _ = repo.create_job(kind=JobKind.BENCHMARK, options={}, queue="test", model_id=demo.id)
    measure(demo, [Precision.F32], MeasureOptions(dataset_id=validation.id, seconds=0.2), jobs.Reporter(job.id),
            job.id, 0.0, 1.0)
    stored = {a.metric: a for a in repo.list_accuracy(demo.id)}
    assert set(stored) == {"top1", "top5"} and stored["top5"].samples == stored["top1"].samples
    assert stored["top1"].value <= stored["top5"].value <= 1.0 and stored["top5"].precision == "f32"
    assert {a.split for a in stored.values()} == {"all"}  # the whole validation dataset was read

    from core.intake.sources import split_dataset

    split = split_dataset(validation.id, validation_fraction=0.2)  # now only its validation part counts
    measure(demo, [Precision.F32], MeasureOptions(dataset_id=validation.id, seconds=0.2), jobs.Reporter(job.id),
            job.id, 0.0, 1.0)
    newest = {a.metric: a for a in repo.list_accuracy(demo.id)}
    assert {(a.split, a.samples) for a in newest.values()} == {("validation", len(split.validation))}
    assert {r["split"] for r in model_accuracy(demo.id)} == {"validation part"}


def test_cli_submits_the_interleaved_job(measured_lab, capsys):  # noqa: F811
    from core.cli import main as cli

    parent, child = measured_lab
    assert cli(["ab", f"{parent.id}:f32", f"{child.id}:bf16", "--rounds", "2", "--threads", "1", "--json"]) == 0
    job = repo.get_job(json.loads(capsys.readouterr().out)["job_id"])
    assert (job.kind, job.model_id, job.options["model_b_id"], job.options["rounds"]) == (
        "interleaved", parent.id, child.id, 2)
    assert (job.options["precision_a"], job.options["precision_b"], job.options["benchmark"]["threads"]) == (
        "f32", "bf16", 1)
    assert cli(["ab", "x", f"{child.id}:bf16"]) == 2
    assert "MODEL_ID:PRECISION" in capsys.readouterr().err
