"""The Optimize page: every algorithm's generated form submits the job the user configured."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from core import lab
from core.config import REPO_ROOT
from db import repository as repo


def optimize_page() -> AppTest:
    return AppTest.from_file(str(REPO_ROOT / "pages" / "optimize.py"), default_timeout=60)


def test_weight_compression_form_submits_its_options(lab_env):
    lab.ensure_demo()
    at = optimize_page().run()
    at.radio[0].set_value("compress_weights").run()
    at.selectbox(key="opt-CompressWeightsOptions-mode").set_value("int4_sym").run()
    at.text_input(key="opt-CompressWeightsOptions-group_size").input("16").run()
    assert [b.label for b in at.button] == ["Run weight compression"]
    at.button[0].click().run()
    assert not at.exception and not at.error, at.error
    [job] = repo.list_jobs()
    assert job.kind == "compress_weights"
    assert job.options["recipe"]["mode"] == "int4_sym" and job.options["recipe"]["group_size"] == 16


def test_contradictory_options_are_explained_not_submitted(lab_env):
    lab.ensure_demo()
    at = optimize_page().run()
    at.radio[0].set_value("compress_weights").run()
    at.text_input(key="opt-CompressWeightsOptions-ratio").input("0.5").run()
    at.button[0].click().run()
    assert "4-bit" in at.error[0].value
    assert repo.list_jobs() == []


def test_sweep_toggle_counts_points_and_submits_one_sweep(lab_env):
    lab.ensure_demo()
    at = optimize_page().run()
    at.toggle[0].set_value(True).run()
    at.text_input(key="sweep-QuantizeOptions-preset").input("performance,mixed").run()
    at.text_input(key="sweep-QuantizeOptions-subset_size").input("50,100,300").run()
    assert at.button[0].label == "Run sweep (6 points)"
    at.button[0].click().run()
    assert not at.exception and not at.error
    [job] = repo.list_jobs()
    assert job.kind == "sweep" and job.options["sweep"]["grid"] == {
        "preset": ["performance", "mixed"], "subset_size": [50, 100, 300]}


def test_a_press_after_the_job_ended_is_a_new_job_and_a_double_click_is_one(lab_env):
    # Issue 12, finding 3: after a job ended, changing an option and pressing Run made no job.
    from core.options import JobStatus

    lab.ensure_demo()
    at = optimize_page().run()
    at.radio[0].set_value("fp16").run()
    at.button[0].click().run()
    at.button[0].click().run()  # a double click while the first job is still pending
    [first] = repo.list_jobs()
    assert repo.claim_job(first.id, pid=999_999)
    repo.finish_job(first.id, JobStatus.SUCCEEDED)
    at.button[0].click().run()  # the same options again, after it ended: a new run
    assert len(repo.list_jobs()) == 2
    at.number_input[0].set_value(5.0).run()  # another option while the second is pending: a new job too
    at.button[0].click().run()
    assert len(repo.list_jobs()) == 3 and not at.exception


def test_a_typo_in_an_option_is_marked_at_its_field_and_run_waits_for_the_fix(lab_env):
    # Issue 12, finding 5: 'abc' as smooth quant alpha and 'int5' in a sweep showed a traceback.
    lab.ensure_demo()
    at = optimize_page().run()
    at.text_input(key="opt-QuantizeOptions-smooth_quant_alpha").input("abc").run()
    assert not at.exception
    assert "smooth_quant_alpha takes a float, got 'abc'" in at.error[0].value
    [run] = [b for b in at.button if b.label == "Run INT8 quantization"]
    assert run.disabled and len(at.text_input) > 1, "the other fields stay"
    at.text_input(key="opt-QuantizeOptions-smooth_quant_alpha").input("0.5").run()
    assert not at.error and not next(b for b in at.button if b.label == "Run INT8 quantization").disabled

    at.radio[0].set_value("compress_weights").run()
    at.toggle[0].set_value(True).run()
    at.text_input(key="sweep-CompressWeightsOptions-mode").input("int4_sym,int5").run()
    assert not at.exception and "int5" in at.error[0].value
    assert at.button[0].disabled
    assert repo.list_jobs() == []


def test_the_finished_panel_shows_the_outcome_where_the_user_is(lab_env):
    # Issue 12 friction: speed-up with its interval, accuracy change, size ratio, what was obtained
    # and links on to Compare and Export, instead of "See the Compare page"; labels, not job kinds.
    from core.jobs.queue import supervise_job

    lab.ensure_demo()
    at = optimize_page().run()
    at.radio[0].set_value("fp16").run()
    at.number_input[0].set_value(1.0).run()
    at.button[0].click().run()
    [job] = repo.list_jobs()
    supervise_job(job.id)  # a real job process, as the worker runs it
    at.run()
    assert not at.exception
    assert any(p.proto.text.startswith(f"Job #{job.id} FP16 compression — succeeded") for p in at.get("progress"))
    assert at.success[0].value.startswith(f"Job #{job.id} finished: fashion-cnn") and "against its parent @" in \
        at.success[0].value
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Speed-up (median latency)"].endswith("×") and metrics["Top-1 change"].endswith("points")
    assert metrics["Size"].endswith("× the parent")
    assert any("Obtained: f16" in c.value for c in at.caption)
    assert {"Compare page", "Export page"} <= {c.value for c in at.caption}  # page_link needs app.py's navigation


def test_calibrating_and_validating_on_the_same_samples_is_warned_of(lab_env):
    _, calibration, validation = lab.ensure_demo()
    at = optimize_page().run()
    assert not any("same samples" in w.value for w in at.warning)
    next(s for s in at.selectbox if s.label == "Validation data (accuracy)").set_value(calibration.id).run()
    assert any("Calibration and validation are the same samples" in w.value for w in at.warning)
    from core.intake.sources import split_dataset

    split_dataset(calibration.id, validation_fraction=0.3, seed=0)  # each job part then reads its own part
    at.run()
    assert not any("same samples" in w.value for w in at.warning)


def test_algorithm_and_sweep_toggle_survive_leaving_the_page_and_options_explain_their_units(lab_env, monkeypatch):
    monkeypatch.setenv("OPTLAB_LOCAL_WORKER", "0")
    lab.ensure_demo()
    at = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=60).run()
    at.switch_page("pages/optimize.py").run()
    at.radio(key="algorithm").set_value("compress_weights").run()
    at.toggle(key="sweep").set_value(True).run()
    at.switch_page("pages/models.py").run()
    assert at.title[0].value == "Models"
    at.switch_page("pages/optimize.py").run()
    assert not at.exception, at.exception
    assert at.radio(key="algorithm").value == "compress_weights" and at.toggle(key="sweep").value is True
    assert "0-1" in at.text_input(key="sweep-CompressWeightsOptions-ratio").help
    at.toggle(key="sweep").set_value(False).run()
    assert "e.g. 32, 64, 128" in at.text_input(key="opt-CompressWeightsOptions-group_size").help
    at.radio(key="algorithm").set_value("quantize_with_accuracy_control").run()
    assert "0.01 = 1 percentage point" in at.number_input(key="opt-AccuracyControlOptions-max_drop").help


def test_qat_of_the_demo_from_the_page_draws_its_training_curve(lab_env):
    import pytest

    pytest.importorskip("torchao")
    from core.jobs.queue import supervise_job
    from db import training

    model, calibration, validation = lab.ensure_demo()
    at = optimize_page().run()
    at.radio[0].set_value("qat").run()
    assert any("PyTorch form (.pt2)" in c.value for c in at.caption)
    assert at.number_input(key="opt-QatOptions-lr").format == "%.1e"  # 1e-4 reads as such, not 0.000
    at.number_input(key="opt-QatOptions-epochs").set_value(1).run()
    at.number_input(key="opt-QatOptions-lr").set_value(1e-5).run()
    at.button[0].click().run()
    assert not at.exception and not at.error, at.error
    [job] = repo.list_jobs()
    assert job.kind == "qat" and job.dataset_id == calibration.id and job.options["recipe"]["epochs"] == 1
    assert job.options["recipe"]["lr"] == 1e-5
    supervise_job(job.id)
    assert repo.get_job(job.id).status == "succeeded", repo.get_job(job.id).message
    assert [(e.phase, e.epoch) for e in training.list_epochs(job.id)] == [("qat", 0), ("qat", 1)]
    at.run()
    [chart] = [c for c in at.get("plotly_chart")]
    import json

    figure = json.loads(chart.proto.spec)
    assert [t["name"] for t in figure["data"]] == ["training loss", "top-1 (%)"]
    assert figure["data"][1]["x"] == ["qat 0", "qat 1"] and 50 < figure["data"][1]["y"][-1] <= 100
