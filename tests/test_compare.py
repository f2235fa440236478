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


def test_sweep_points_and_ab_runs_do_not_replace_the_rows_measurements(measured_lab):
    parent, _ = measured_lab
    before = {r["key"]: (r["latency_ms"], r["throughput_fps"]) for r in compare.results_rows()}
    store_benchmark(parent.id, precision="bf16", hint="throughput", fps=7.0, sweep_point="b1 s1")
    ab_run = {**benchmark_row(precision="bf16", latency=9.0), "environment": {"interleaved": {"round": 0}}}
    repo.add_benchmark(parent.id, ab_run)
    repo.add_benchmark(parent.id, {**benchmark_row(precision="bf16", hint="throughput", fps=8.0), "auto_batch": True})
    assert {r["key"]: (r["latency_ms"], r["throughput_fps"]) for r in compare.results_rows()} == before


def test_front_pick_for_me_and_ab(measured_lab):
    rows = compare.results_rows()
    # f32 is as accurate as bf16 but slower: it is off the latency front.
    assert [(r["model"], r["precision"]) for r in compare.front_rows(rows)] == [("net INT8", "bf16"), ("net", "bf16")]
    assert compare.pick_for_me(rows, latency_budget_ms=1.5).row["model"] == "net INT8"
    assert compare.pick_for_me(rows, latency_budget_ms=3).row["model"] == "net"
    assert compare.pick_for_me(rows, min_accuracy=0.89).row["precision"] == "bf16"
    with pytest.raises(BadInputError, match="Raise the budget"):
        compare.pick_for_me(rows, latency_budget_ms=0.5)
    ab = {r["metric"]: r for r in compare.ab_comparison(rows, rows[1]["key"], rows[2]["key"])}
    assert ab["latency median (ms)"]["B / A"] == pytest.approx(0.25)
    low, high = (float(v) for v in ab["latency median (ms)"]["spread of B / A"].split("–"))
    assert low < 0.25 < high  # min/max of both runs bound the ratio
    assert ab["throughput (FPS)"]["B / A"] == pytest.approx(4.0)


def test_downloads_and_hover(measured_lab):
    rows = compare.results_rows()
    csv_table = pd.read_csv(io.BytesIO(compare.table_csv(rows)))
    assert csv_table["model"].tolist() == ["net", "net", "net INT8"]
    assert json.loads(compare.table_json(rows))[2]["top1"] == 0.88
    figure = accuracy_figure(rows, CompareAxis.THROUGHPUT)
    names = [t.name for t in figure.data]
    assert names == ["original", "quantize", "Pareto front"]
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
    assert ab.loc["size (MB)", "B / A"] == pytest.approx(0.5 / round(measured_lab[0].size_bytes / 1e6, 3))


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
