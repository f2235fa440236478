"""Language models on the pages (issue 14): the LLM demo button, the Optimize form of a language
model, its job's outcome, the Compare view (quality against tokens/s with the Pareto front, the
worst answers) and the Measure page's generation benchmark — through Streamlit's AppTest, with
real jobs run in-process."""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from core.config import REPO_ROOT
from tests.test_pages import _headers, open_demo_link


def page(name: str) -> AppTest:
    return AppTest.from_file(str(REPO_ROOT / "pages" / f"{name}.py"), default_timeout=120)


def _small_texts(tmp_path, name: str, rows: list[str]):
    from core.intake.sources import add_data_from_path

    path = tmp_path / name
    path.write_text("".join(json.dumps({"text": row}) + "\n" for row in rows))
    return add_data_from_path(path)


def _select(at: AppTest, label: str, value) -> None:
    next(s for s in at.selectbox if s.label == label).set_value(value).run()


@pytest.mark.timeout(600)
def test_llm_demo_compresses_to_int4_from_the_pages_and_compare_shows_it(lab_env, tmp_path, monkeypatch):
    from core.jobs.queue import supervise_job
    from db import repository as repo

    monkeypatch.setenv("OPTLAB_LOCAL_WORKER", "0")
    at = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=120).run()
    open_demo_link(at, "Try the LLM demo")
    assert not at.exception, at.exception
    assert at.title[0].value == "Optimize"
    demo = next(m for m in repo.list_models() if m.name == "fortune-llama (LLM demo)")
    assert at.session_state["model_id"] == demo.id
    # A language model takes weight compression or FP16; its data are texts and prompts, not tensors.
    assert list(at.radio[0].options) == ["weight compression", "FP16 compression"]
    assert {s.label for s in at.selectbox} >= {"Texts (word perplexity)", "Prompts (answer similarity with the parent)"}
    assert "Calibration data" not in {s.label for s in at.selectbox}
    # Short sets keep the job short: 12 held-out fortunes, 6 prompts.
    rows = [json.loads(line)["text"] for line in (REPO_ROOT / "assets" / "llm" / "fortunes_texts.jsonl").open()]
    texts = _small_texts(tmp_path, "texts.jsonl", rows[:12])
    prompts = _small_texts(tmp_path, "prompts.jsonl", [" ".join(r.split()[:4]) for r in rows[12:18]])
    at.run()
    _select(at, "Texts (word perplexity)", texts.id)
    _select(at, "Prompts (answer similarity with the parent)", prompts.id)
    _select(at, "mode", "int4_sym")
    next(t for t in at.text_input if t.label == "group size").set_value("64").run()
    next(b for b in at.button if b.label == "Run weight compression").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    job = repo.list_jobs(1)[0]
    assert job.kind == "compress_weights" and job.options["recipe"]["mode"] == "int4_sym"
    assert job.options["measure"]["dataset_id"] == texts.id and job.options["measure"]["prompts_id"] == prompts.id

    supervise_job(job.id)
    assert repo.get_job(job.id).status == "succeeded", repo.get_job(job.id).message
    at.run()  # the job panel: the child against its parent
    metrics = {m.label: m.value for m in at.metric}
    assert {"Tokens/s", "Word perplexity", "Answer similarity", "Size"} <= set(metrics), metrics
    assert float(metrics["Size"].split("×")[0]) < 0.5  # INT4 of f16 weights (the embeddings stay 8 bit)
    assert 0 < float(metrics["Answer similarity"]) <= 1.0001

    at.switch_page("pages/compare.py").run()  # only language models measured: their view
    assert not at.exception, at.exception
    child = repo.get_model(repo.get_job(job.id).result_model_id)
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    points = [(t["name"], len(t["x"])) for t in spec["data"]]
    assert ("original", 1) in points and ("compress_weights", 1) in points  # parent and child
    assert any(name.startswith("Pareto front") for name, _ in points)
    assert spec["layout"]["yaxis"]["title"]["text"] == "word perplexity"
    shown = at.dataframe[0].value
    assert set(shown["model"]) == {demo.name, child.name}
    assert shown.set_index("model").loc[child.name, "size_mb"] < shown.set_index("model").loc[demo.name, "size_mb"]
    _select(at, "Quality metric", "similarity")
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert spec["layout"]["yaxis"]["title"]["text"] == "answer similarity with parent"
    parent_y = next(t["y"][0] for t in spec["data"] if t["name"] == "original")
    assert parent_y == 1.0  # the reference's own answers: similarity 1 by definition
    worst = at.dataframe[-1].value
    raw = {h for frame in at.dataframe for h in _headers(frame) if "_" in h}
    assert list(worst.columns) == ["prompt", "reference answer", "this model's answer", "similarity"]
    assert len(worst) == 5 and set(worst["prompt"]) <= {" ".join(r.split()[:4]) for r in rows[12:18]}

    at.switch_page("pages/measure.py").run()
    assert not at.exception, at.exception
    assert [t.label for t in at.tabs] == ["Generation benchmark", "Quality"]
    assert 32 in at.dataframe[0].value["prompt_tokens"].tolist()
    raw |= {h for frame in at.dataframe for h in _headers(frame) if "_" in h}
    assert not raw, f"raw keys shown as column titles: {raw}"
    next(b for b in at.button if b.label == "Run generation benchmark").click().run()
    bench = repo.list_jobs(1)[0]
    assert bench.kind == "generate_bench" and bench.options["prompt_tokens"] == [32, 256]


def test_text_data_on_the_data_page(lab_env, tmp_path, classifier_ir):
    from core import lab
    from db import repository as repo

    lab.ensure_llm_demo()
    tensor = lab.add_model_from_path(classifier_ir)
    at = page("data").run()
    assert not at.exception, at.exception
    datasets = at.dataframe[0].value
    assert set(datasets["format"]) == {"text"}
    _select(at, "Dataset", int(datasets["id"].iloc[0]))
    _select(at, "Model", tensor.id)
    assert any("holds texts" in e.value for e in at.error)  # texts do not feed a tensor model
    _select(at, "Model", next(m.id for m in repo.list_models() if m.id != tensor.id))
    assert any("can score" in s.value for s in at.success)
    assert len(at.dataframe[1].value) == 10  # the first texts


def test_a_compression_sweep_shows_as_a_ratio_by_group_size_heat_map(lab_env):
    from core import lab
    from core.compare.generation import generation_rows, recipe_grid
    from db import repository as repo
    from tests.stored_results import store_generation

    parent = lab.add_model_from_path(REPO_ROOT / "assets" / "llm" / "fortune-llama")
    store_generation(parent.id, tokens_per_s=3000)
    cells = {(0.8, 64): 2400.0, (1.0, 64): 2600.0, (1.0, 128): 2800.0}  # (0.8, 128) not measured
    for (ratio, group), speed in cells.items():
        child = repo.add_model(name=f"WC r{ratio} g{group}", format="openvino-ir", path=parent.path,
                               size_bytes=parent.size_bytes // 3, inputs=parent.inputs, outputs=parent.outputs,
                               parent_id=parent.id, recipe={"algorithm": "compress_weights", "options": {
                                   "mode": "int4_sym", "ratio": ratio, "group_size": group}})
        store_generation(child.id, tokens_per_s=speed)
        repo.add_accuracy(model_id=child.id, dataset_id=None, metric="similarity", value=speed / 3000, samples=4,
                          precision="default", reference_model_id=parent.id)
    grid = recipe_grid(generation_rows(), "tokens_per_s")
    assert grid["x"] == ["64", "128"] and grid["y"] == ["0.8", "1.0"] and grid["mode"] == "int4_sym"
    assert grid["z"] == [[2400.0, None], [2600.0, 2800.0]]
    at = page("compare").run()
    assert not at.exception, at.exception
    heat = json.loads(at.get("plotly_chart")[1].proto.spec)
    assert heat["data"][0]["type"] == "heatmap" and heat["data"][0]["z"] == [[0.8, None], [2600 / 3000, 2800 / 3000]]
