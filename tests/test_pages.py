"""Every page renders through Streamlit's AppTest: empty states, forms, errors, tables."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from core import lab
from core.config import REPO_ROOT
from db import repository as repo

PAGES = ["home", "models", "data", "optimize", "jobs", "compare", "export"]


def page(name: str) -> AppTest:
    return AppTest.from_file(str(REPO_ROOT / "pages" / f"{name}.py"), default_timeout=60)


@pytest.mark.parametrize("name", PAGES)
def test_every_page_renders_an_empty_lab(lab_env, name):
    at = page(name).run()
    assert not at.exception, at.exception
    text = " ".join(m.value for m in at.info) + " ".join(m.value for m in at.markdown)
    if name != "home":
        assert at.info, f"{name} shows no empty-state hint"
    assert "Traceback" not in text


def test_home_demo_button_registers_demo_and_opens_optimize(lab_env, monkeypatch):
    monkeypatch.setenv("OPTLAB_LOCAL_WORKER", "0")
    at = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=60).run()
    assert at.title[0].value == "Optimization Lab"
    next(b for b in at.button if b.label == "Try the demo").click().run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Optimize"
    at.switch_page("pages/home.py").run()
    next(b for b in at.button if b.label == "Try the demo").click().run()
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
