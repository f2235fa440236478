"""Every page renders through Streamlit's AppTest: empty states, forms, errors, tables."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from core import lab, storage
from core.config import REPO_ROOT
from core.measure.options import ProfileOptions
from db import repository as repo

PAGES = ["home", "models", "data", "optimize", "jobs", "compare", "export"]


@pytest.fixture(autouse=True)
def no_local_worker(monkeypatch):
    """app.py starts no worker in these tests (one that needs a worker starts its own)."""
    monkeypatch.setenv("OPTLAB_LOCAL_WORKER", "0")


def page(name: str) -> AppTest:
    """The page as the app runs it: through app.py's navigation, so that its page links resolve."""
    at = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=60)
    at.switch_page(f"pages/{name}.py")
    return at


@pytest.mark.parametrize("name", PAGES)
def test_every_page_renders_an_empty_lab(lab_env, name):
    at = page(name).run()
    assert not at.exception, at.exception
    text = " ".join(m.value for m in at.info) + " ".join(m.value for m in at.markdown)
    if name != "home":
        assert at.info, f"{name} shows no empty-state hint"
    assert "Traceback" not in text


def open_demo_link(at: AppTest, label: str) -> AppTest:
    """Follows the Overview's demo link the way the browser does: its page, with its query string."""
    link = next(link for link in at.get("page_link") if link.proto.label == label)
    for key, value in (part.split("=", 1) for part in link.proto.query_string.split("&")):
        at.query_params[key] = value
    return at.switch_page(f"pages/{link.proto.page}.py").run()


def test_home_demo_link_registers_demo_and_opens_optimize(lab_env):
    at = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=60).run()
    assert at.title[0].value == "Optimization Lab"
    open_demo_link(at, "Try the demo")
    assert not at.exception, at.exception
    assert at.title[0].value == "Optimize"
    assert "demo" not in at.query_params, "a reload must not come back to the demo link"
    at.switch_page("pages/home.py").run()
    open_demo_link(at, "Try the demo")
    model, calibration, validation = lab.ensure_demo()
    assert at.session_state["model_id"] == model.id
    assert repo.get_dataset(validation.id).samples == 500
    assert len(repo.list_models()) == 1, "pressing the demo twice must not duplicate it"


def test_pages_show_stored_demo(lab_env):
    lab.ensure_demo()
    at = page("models").run()
    assert not at.exception
    assert "fashion-cnn (demo)" in at.dataframe[0].value["name"].tolist()
    at = page("data").run()
    assert sorted(at.dataframe[0].value["samples"].tolist()) == [300, 500]
    at = page("optimize").run()
    assert not at.exception
    assert [b.label for b in at.button] == ["Run INT8 quantization"]
    at = page("export").run()
    assert not at.exception


def test_models_page_reports_bad_upload_and_keeps_models(lab_env, classifier_ir):
    kept = lab.add_model_from_path(classifier_ir)
    with pytest.raises(Exception) as caught:
        lab.add_model([("notes.txt", b"hello")])
    assert "model format" in str(caught.value) or "No model file" in str(caught.value)
    at = page("models").run()
    assert at.dataframe[0].value["id"].tolist() == [kept.id]


def test_data_page_without_file_says_what_to_do(lab_env):
    at = page("data").run()
    at.button[0].click().run()
    assert not at.exception
    assert "Choose a zip" in at.error[0].value


def test_compare_page_draws_measured_models(lab_env, classifier_ir):
    model = lab.add_model_from_path(classifier_ir)
    result = {"device": "CPU", "hint": "latency", "batch": 1, "streams": 1, "infer_requests": 1,
              "precision": "f32", "throughput_fps": 100.0, "first_inference_ms": 3.0,
              "compile_ms": 50.0, "iterations": 10, "duration_s": 0.1, "environment": {},
              "latency_ms": {"median": 1.0, "mean": 1.1, "min": 0.9, "max": 2.0, "p90": 1.5, "p99": 1.9}}
    repo.add_benchmark(model.id, result)
    repo.add_accuracy(model_id=model.id, dataset_id=None, metric="top1", value=0.5, samples=10,
                      precision="f32")
    at = page("compare").run()
    assert not at.exception
    table = at.dataframe[0].value
    assert table["top1"].tolist() == [50.0] and table["precision"].tolist() == ["f32"]


def _headers(frame) -> list[str]:
    """The column headers a user sees: the configured title, else the column's own name."""
    import json

    config = json.loads(frame.proto.columns or "{}")
    return [config.get(str(column), {}).get("label") or str(column) for column in frame.value.columns]


def test_every_table_shows_titles_and_units_not_raw_keys(lab_env, classifier_ir):
    """Issue 12: `throughput_fps`, `share 0.6296`, `time_a_ms` ... get titles (with units) on every page."""
    from core.jobs import runner as jobs
    from core.measure.profile import profile_model
    from core.options import BenchmarkOptions
    from tests.stored_results import store_benchmark

    parent = lab.add_model_from_path(classifier_ir, name="tiny")
    child = repo.add_model(name="tiny INT8", format="openvino-ir", path=parent.path, size_bytes=parent.size_bytes,
                           inputs=parent.inputs, outputs=parent.outputs, parent_id=parent.id,
                           recipe={"algorithm": "quantize", "options": {}, "dataset_id": None})
    for model in (parent, child):
        store_benchmark(model.id)
        store_benchmark(model.id, hint="throughput")
        for batch in (1, 2):
            store_benchmark(model.id, hint="throughput", batch=batch, sweep_point=f"batch {batch}")
        repo.add_accuracy(model_id=model.id, dataset_id=None, metric="top1", value=0.906, samples=10,
                          precision="f32")
        result = profile_model(storage.resolve(model.path), ProfileOptions(iterations=2))
        repo.add_profile(model_id=model.id, device=result.device, precision=result.precision,
                         total_ms=result.total_ms, layers=result.layer_dicts())
    job = lab.submit_interleaved(f"{parent.id}:f32", f"{child.id}:f32", benchmark=BenchmarkOptions(seconds=0.2),
                                 rounds=2)
    assert jobs.run(job.id) == 0, repo.get_job(job.id).message
    raw = {}
    for name in [*PAGES, "measure"]:
        at = page(name).run()
        if name == "measure":
            assert [o.split(" @ ")[0] for o in at.selectbox[-2].options] == [f"model #{child.id} tiny INT8",
                                                                             f"model #{parent.id} tiny"]
            at.selectbox[-1].set_value(repo.list_profiles()[0].id).run()
        assert not at.exception, at.exception
        assert name != "measure" or len(at.dataframe) == 3, "sweep summary, profile and profile diff"
        if name == "compare":
            ab = next(f.value for f in at.dataframe if "B / A" in f.value.columns)
            assert None not in ab["B / A"].tolist() and "—" in ab["B / A"].tolist(), ab
        for frame in at.dataframe:
            raw.update({header: name for header in _headers(frame) if "_" in header or header == "share"})
    assert not raw, f"raw keys shown as column titles: {raw}"
