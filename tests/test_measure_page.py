"""The Measure page through Streamlit's AppTest: estimate, submit, stored sweeps and profiles."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from core import lab
from core.config import REPO_ROOT
from db import repository as repo


def measure_page() -> AppTest:
    return AppTest.from_file(str(REPO_ROOT / "pages" / "measure.py"), default_timeout=60)


def _stored_point(model_id: int, batch: int, fps: float, latency: float) -> None:
    stats = {k: latency for k in ("median", "mean", "min", "max", "p90", "p99")}
    repo.add_benchmark(model_id, {"device": "CPU", "hint": "throughput", "batch": batch, "streams": 2,
                                  "infer_requests": 2, "precision": "bf16", "latency_ms": stats,
                                  "throughput_fps": fps, "first_inference_ms": 1.0, "compile_ms": 5.0,
                                  "iterations": 100, "duration_s": 1.0, "environment": {},
                                  "sweep_point": f"batch {batch}"})


def test_page_estimates_and_submits_a_batch_sweep(lab_env, classifier_ir):
    lab.add_model_from_path(classifier_ir)
    at = measure_page().run()
    at.text_input[0].input("1,2,4").run()
    next(n for n in at.number_input if n.label == "Threads (0 = all cores)").set_value(2).run()
    assert "3 points × 1 repeats: about 9 s" in at.caption[0].value
    at.button[0].click().run()
    assert not at.exception and not at.error
    [job] = repo.list_jobs()
    assert job.kind == "batch_sweep" and job.options["batches"] == [1, 2, 4] and job.options["threads"] == 2


def test_bad_batch_list_is_explained(lab_env, classifier_ir):
    lab.add_model_from_path(classifier_ir)
    at = measure_page().run()
    at.text_input[0].input("1,two").run()
    assert "whole numbers" in at.error[0].value


def test_stored_sweep_names_the_best_batch_for_a_budget_and_profiles_diff(lab_env, classifier_ir):
    model = lab.add_model_from_path(classifier_ir)
    for batch, fps, latency in ((1, 100.0, 2.0), (4, 300.0, 8.0), (8, 320.0, 30.0)):
        _stored_point(model.id, batch, fps, latency)
    layers = [{"name": "conv", "layer_type": "Convolution", "exec_type": "brgconv_avx512_amx_bf16",
               "precision": "bf16", "time_ms": 1.0}]
    repo.add_profile(model_id=model.id, device="CPU", precision="bf16", total_ms=1.0, layers=layers)
    int8 = [{**layers[0], "exec_type": "brgconv_avx512_amx_I8", "precision": "i8", "time_ms": 0.4}]
    repo.add_profile(model_id=model.id, device="CPU", precision="bf16", total_ms=0.4, layers=int8)
    at = measure_page().run()
    assert not at.exception
    assert at.metric[0].value == "8"
    budget = next(n for n in at.number_input if n.label == "Latency budget (ms)")
    budget.set_value(10.0).run()
    assert at.metric[0].value == "4"
    at.selectbox[-1].set_value(repo.list_profiles()[0].id).run()  # diff the newest against the first
    diff = at.dataframe[-1].value
    assert list(diff["precisions_a"]) == ["bf16"] and list(diff["precisions_b"]) == ["i8"]
