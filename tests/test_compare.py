"""The Compare page and its core: filters, Pareto front, pick for me, A/B, downloads, hover."""

from __future__ import annotations

import datetime
import io
import json

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from core import lab
from core.compare import table as compare
from core.compare.figures import accuracy_figure
from core.compare.pick import pick_for_me
from core.config import REPO_ROOT
from core.errors import BadInputError
from core.optimize.recipes import QuantizeOptions
from core.options import CompareAxis, CompareFilters
from db import repository as repo
from tests.stored_results import benchmark_row, store_benchmark


@pytest.fixture
def measured_lab(lab_env, classifier_ir):
    """A parent at f32 (slow, 90 %) and bf16 (faster, 90 %), an INT8 child (fastest, 88 %)."""
    parent = lab.add_model_from_path(classifier_ir, name="net")
    child = repo.add_model(name="net INT8", format="openvino-ir", path=parent.path, size_bytes=500_000,
                           inputs=parent.inputs, outputs=parent.outputs, parent_id=parent.id,
                           recipe={"algorithm": "quantize", "options": QuantizeOptions(preset="mixed").to_dict()})
    for model, precision, latency, fps, top1 in ((parent, "f32", 4.0, 250.0, 0.90), (parent, "bf16", 2.0, 500.0, 0.90),
                                                 (child, "bf16", 1.0, 1000.0, 0.88)):
        store_benchmark(model.id, precision=precision, latency=latency)
        store_benchmark(model.id, precision=precision, hint="throughput", fps=fps, latency=latency * 3)
        repo.add_accuracy(model_id=model.id, dataset_id=None, metric="top1", value=top1, samples=100,
                          precision=precision)
    return parent, child


def page() -> AppTest:
    return AppTest.from_file(str(REPO_ROOT / "pages" / "compare.py"), default_timeout=60)


def test_rows_carry_source_recipe_and_settings_and_filters_narrow_them(measured_lab):
    parent, child = measured_lab
    rows = compare.results_rows()
    assert [(r["model"], r["precision"]) for r in rows] == [("net", "bf16"), ("net", "f32"), ("net INT8", "bf16")]
    int8 = rows[-1]
    assert int8["source"] == "net" and int8["recipe"].startswith("quantize preset=mixed")
    assert int8["settings"] == "latency hint: 1 stream(s), 2 request(s), 1.0 s"
    assert compare.filter_choices(rows)["algorithms"] == ["original", "quantize"]
    only_bf16 = compare.filter_rows(rows, CompareFilters(precisions=["bf16"], algorithms=["original"]))
    assert [(r["model"], r["precision"]) for r in only_bf16] == [("net", "bf16")]
    tomorrow = datetime.date.today() + datetime.timedelta(days=1)
    assert compare.filter_rows(rows, CompareFilters(since=tomorrow)) == []
    with pytest.raises(BadInputError, match="swap the dates"):
        CompareFilters(since=tomorrow, until=datetime.date.today())


def test_sweep_points_do_not_replace_the_rows_measurements_and_ab_runs_add_evidence(measured_lab):
    parent, _ = measured_lab
    before = {r["key"]: (r["latency_ms"], r["throughput_fps"]) for r in compare.results_rows()}
    store_benchmark(parent.id, precision="bf16", hint="throughput", fps=7.0, sweep_point="b1 s1")
    store_benchmark(parent.id, precision="bf16", latency=30.0, sweep_point="b1 s1")
    repo.add_benchmark(parent.id, {**benchmark_row(precision="bf16", hint="throughput", fps=8.0), "auto_batch": True})
    assert {r["key"]: (r["latency_ms"], r["throughput_fps"]) for r in compare.results_rows()} == before
    # An interleaved A/B run is a plain latency run: the headline is the median of both, with its interval.
    ab_run = {**benchmark_row(precision="bf16", latency=9.0), "environment": {"interleaved": {"round": 0}}}
    repo.add_benchmark(parent.id, ab_run)
    row = next(r for r in compare.results_rows() if r["key"] == f"{parent.id}:bf16")
    assert (row["latency_ms"], row["latency_low_ms"], row["latency_high_ms"], row["latency_runs"]) == (5.5, 2.0, 9.0, 2)


def test_a_noisy_run_is_replaced_by_quieter_evidence_and_flags_a_row_with_no_other(measured_lab):
    # Issue 12, finding 2: one run under load (INT8 "slower" than its parent) must not be the headline
    # while the lab has quieter runs of the same model and precision.
    parent, child = measured_lab
    repo.add_benchmark(child.id, {**benchmark_row(precision="bf16", latency=40.0), "noisy": True})
    row = next(r for r in compare.results_rows() if r["model_id"] == child.id)
    assert row["latency_ms"] != 40.0 and not row["noisy"] and row["noisy_runs_left_out"] == 1
    lone = repo.add_model(name="lone", format="openvino-ir", path="models/lone/model.xml", size_bytes=1,
                          inputs=[], outputs=[], parent_id=None, recipe={"algorithm": "original"})
    repo.add_benchmark(lone.id, {**benchmark_row(latency=7.0), "noisy": True})
    flagged = next(r for r in compare.results_rows() if r["model_id"] == lone.id)
    assert flagged["noisy"] and flagged["latency_ms"] == 7.0 and flagged["latency_runs"] == 1


def test_front_pick_for_me_and_ab(measured_lab):
    rows = compare.results_rows()
    # f32 is as accurate as bf16 but slower: it is off the latency front.
    assert [(r["model"], r["precision"]) for r in compare.front_rows(rows)] == [("net INT8", "bf16"), ("net", "bf16")]
    assert pick_for_me(rows, latency_budget_ms=1.5).row["model"] == "net INT8"
    assert pick_for_me(rows, latency_budget_ms=3).row["model"] == "net"
    assert pick_for_me(rows, min_accuracy=0.89).row["precision"] == "bf16"
    with pytest.raises(BadInputError, match="Raise the budget"):
        pick_for_me(rows, latency_budget_ms=0.5)
    ab = {r["metric"]: r for r in compare.ab_comparison(rows, rows[1]["key"], rows[2]["key"])}
    assert ab["latency median (ms)"]["B / A"] == pytest.approx(0.25)
    assert ab["latency median (ms)"]["spread of B / A"] == "—", "runs measured apart give no spread"
    rounds = [{"ratio": "median latency B / A", "min": 0.2, "max": 0.3, "rounds": 3}]
    ab = {r["metric"]: r for r in compare.ab_comparison(rows, rows[1]["key"], rows[2]["key"], rounds)}
    assert ab["latency median (ms)"]["spread of B / A"] == "0.200–0.300 (3 interleaved rounds)"
    assert ab["throughput (FPS)"]["B / A"] == pytest.approx(4.0)


def test_downloads_and_hover(measured_lab):
    rows = compare.results_rows()
    csv_table = pd.read_csv(io.BytesIO(compare.table_csv(rows)))
    assert csv_table["model"].tolist() == ["net", "net", "net INT8"]
    assert json.loads(compare.table_json(rows))[2]["top1"] == 0.88
    figure = accuracy_figure(rows, CompareAxis.THROUGHPUT)
    names = [t.name for t in figure.data]
    assert names == ["original", "quantize", "Pareto front: net"]
    assert list(figure.data[2].x) == [500.0, 1000.0]  # throughput: higher is better
    assert "recipe: %{customdata[1]}" in figure.data[1].hovertemplate
    assert figure.data[1].customdata[0][1].startswith("quantize preset=mixed")


def test_page_filters_picks_and_compares(measured_lab):
    at = page().run()
    assert not at.exception, at.exception
    assert len(at.dataframe[0].value) == 3
    # The default budget is the slowest latency shown: the most accurate model within it wins.
    assert "net @ bf16" in at.success[0].value
    precision = lambda: next(m for m in at.multiselect if m.label == "Precisions")  # noqa: E731
    precision().set_value(["f32"]).run()
    assert not at.exception, at.exception
    assert at.dataframe[0].value["precision"].tolist() == ["f32"]
    precision().set_value([]).run()
    next(r for r in at.radio if r.label == "Constraint").set_value("minimum top-1 (%)").run()
    at.number_input[0].set_value(85.0).run()
    assert "net INT8 @ bf16" in at.success[0].value, "the fastest model above 85 %"
    ab = at.dataframe[-1].value.set_index("metric")
    assert ab.loc["size (MB)", "B / A"] == f"{0.5 / round(measured_lab[0].size_bytes / 1e6, 3):.3f}"


def test_cli_writes_the_table_and_picks(measured_lab, tmp_path, capsys):
    from core.cli import main as cli

    assert cli(["results", "--out", str(tmp_path / "t.json")]) == 0
    assert [r["precision"] for r in json.loads((tmp_path / "t.json").read_text())] == ["bf16", "f32", "bf16"]
    capsys.readouterr()
    assert cli(["pick", "--min-accuracy", "85", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["model"] == "net INT8"
    assert cli(["pick", "--latency-budget", "0.1"]) == 2
    assert "Raise the budget" in capsys.readouterr().err


def test_batch_chart_draws_one_line_per_swept_model(measured_lab):
    parent, child = measured_lab
    assert compare.batch_curves() == [], "no sweep, no batch chart"
    for batch, fps in ((2, 1500.0), (4, 1800.0)):
        store_benchmark(child.id, precision="bf16", hint="throughput", batch=batch, fps=fps, latency=batch * 1.0)
    curves = compare.batch_curves()
    assert {c["line"] for c in curves} == {"net INT8 @ bf16 (throughput hint)"}
    assert [(c["batch"], c["throughput_fps"]) for c in curves] == [(1, 1000.0), (2, 1500.0), (4, 1800.0)]
    assert compare.batch_curves([parent.id]) == []  # filtered out with the table
    at = page().run()
    assert not at.exception, at.exception
    assert [s.value for s in at.subheader][:1] == ["Batch size"]


def test_pick_for_me_says_when_its_choice_rests_on_overlapping_intervals_and_offers_to_remeasure(measured_lab):
    # Issue 12, finding 2: INT8 (1.0 ms) and its parent (2.0 ms) with runs that overlap: 0.9-2.5 ms.
    parent, child = measured_lab
    store_benchmark(child.id, precision="bf16", latency=2.5)
    store_benchmark(parent.id, precision="bf16", latency=1.8)
    rows = compare.results_rows()
    pick = pick_for_me(rows, min_accuracy=0.85)
    assert pick.row["model"] == "net INT8"
    assert [r["key"] for r in pick.contenders] == [f"{parent.id}:bf16"]
    assert "overlapping latency intervals" in pick.reason and "interleaved" in pick.reason
    at = page().run()
    next(r for r in at.radio if r.label == "Constraint").set_value("minimum top-1 (%)").run()
    next(n for n in at.number_input if n.label == "Value").set_value(85.0).run()
    assert not at.exception and "overlapping latency intervals" in at.warning[0].value
    next(b for b in at.button if b.label.startswith("Re-measure them interleaved")).click().run()
    [job] = repo.list_jobs()
    assert job.kind == "interleaved" and job.model_id == child.id and job.options["model_b_id"] == parent.id


def test_a_noisy_pick_offers_to_remeasure_against_the_row_its_noisy_latency_made_look_dominated(lab_env,
                                                                                                classifier_ir):
    # The walkthrough: an INT4 request that stayed INT8 (same 100 %), both measured under load; the
    # parent looks faster and dominates its child, yet only noisy runs back that.
    parent = lab.add_model_from_path(classifier_ir, name="mlp")
    child = repo.add_model(name="mlp WC", format="openvino-ir", path=parent.path, size_bytes=1, inputs=parent.inputs,
                           outputs=parent.outputs, parent_id=parent.id, recipe={"algorithm": "compress_weights"})
    for model, latency in ((parent, 0.014), (child, 0.021)):
        repo.add_benchmark(model.id, {**benchmark_row(latency=latency), "noisy": True})
        repo.add_accuracy(model_id=model.id, dataset_id=None, metric="top1", value=1.0, samples=200, precision="f32")
    rows = compare.results_rows()
    assert [r["model"] for r in compare.front_rows(rows)] == ["mlp"]
    pick = pick_for_me(rows, latency_budget_ms=0.021)
    assert pick.row["model"] == "mlp" and [r["model"] for r in pick.contenders] == ["mlp WC"]
    assert "busy machine only (noisy), so mlp WC @ f32 may be the better pick" in pick.reason
    assert [r["model"] for r in pick_for_me(rows, min_accuracy=0.99).contenders] == ["mlp WC"]


def test_one_front_per_family_and_the_latest_family_is_shown_first(measured_lab, tmp_path):
    # Issue 12, finding 4: an unrelated model at 40 % never joins the CNN's front, and A/B starts at
    # the family's parent against its newest child.
    from tests.models_in_code import make_classifier

    other = lab.add_model_from_path(make_classifier(tmp_path / "emo" / "model.xml", classes=7), name="emotion")
    store_benchmark(other.id, precision="bf16", latency=0.5)
    repo.add_accuracy(model_id=other.id, dataset_id=None, metric="top1", value=0.4, samples=100, precision="bf16")
    rows = compare.results_rows()
    families = compare.families(rows)
    assert list(families)[0] == ("emotion", "") and len(families) == 2
    figure = accuracy_figure(rows)
    fronts = sorted(t.name for t in figure.data if t.name.startswith("Pareto front"))
    assert fronts == ["Pareto front: emotion", "Pareto front: net"]
    parent, child = measured_lab
    assert compare.default_ab(families[("net", "")]) == (f"{parent.id}:bf16", f"{child.id}:bf16")
    at = page().run()
    family = next(s for s in at.selectbox if s.label.startswith("Model family"))
    assert family.value == "emotion" and not at.exception
    family.set_value("net").run()
    assert [s.value for s in at.selectbox if s.label in ("A", "B")] == [f"{parent.id}:bf16", f"{child.id}:bf16"]


def test_pick_uses_the_chosen_metric_and_agreement_needs_no_labels(lab_env, classifier_ir, capsys):
    """Issue 13: on unlabelled data only agreement is stored; pick used to fail ("no accuracy"). The
    source model is the reference, so it agrees with itself perfectly; error metrics count lower as better."""
    from core.cli import main

    parent = lab.add_model_from_path(classifier_ir, name="enc")
    child = repo.add_model(name="enc INT8", format="openvino-ir", path=parent.path, size_bytes=1, inputs=parent.inputs,
                           outputs=parent.outputs, parent_id=parent.id, recipe={"algorithm": "quantize"})
    store_benchmark(parent.id, latency=2.0)
    store_benchmark(child.id, latency=1.0)
    for metric, value in (("cosine", 0.97), ("mse", 0.02)):
        repo.add_accuracy(model_id=child.id, dataset_id=None, metric=metric, value=value, samples=50,
                          precision="f32", reference_model_id=parent.id)
    rows = compare.results_rows()
    with pytest.raises(BadInputError, match="No model has both top-1"):
        pick_for_me(rows, latency_budget_ms=5)
    assert pick_for_me(rows, latency_budget_ms=5, metric="cosine").row["model"] == "enc"
    fast = pick_for_me(rows, min_accuracy=0.95, metric="cosine")
    assert fast.row["model"] == "enc INT8" and "at least 0.95 cosine similarity with parent" in fast.reason
    assert pick_for_me(rows, min_accuracy=0.01, metric="mse").row["model"] == "enc", "INT8's 0.02 > 0.01"
    assert main(["pick", "--metric", "mse", "--min-accuracy", "0.05", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["model"] == "enc INT8"
    assert main(["results", "--metric", "cosine"]) == 0
    assert "cosine 0.97" in capsys.readouterr().out
    at = page().run()
    assert not at.exception
    metric = next(s for s in at.selectbox if s.label == "Accuracy metric")
    metric.set_value("cosine").run()
    next(r for r in at.radio if r.label == "Constraint").set_value("minimum cosine similarity with parent").run()
    next(n for n in at.number_input if n.label == "Value").set_value(0.95).run()
    assert not at.exception and "enc INT8 @ f32" in at.success[0].value
