"""Overview page: latest results, and a toast on any page when a job ends."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from core import lab
from core.options import JobStatus
from db import repository as repo
from tests.stored_results import store_benchmark
from tests.test_pages import page


def test_home_lists_latest_results_newest_first(lab_env, classifier_ir, monkeypatch):
    first = lab.add_model_from_path(classifier_ir, name="first")
    second = lab.add_model_from_path(classifier_ir, name="second")
    store_benchmark(first.id, latency=2.0)
    store_benchmark(second.id, latency=1.0)
    repo.add_accuracy(model_id=second.id, dataset_id=None, metric="top1", value=0.5, samples=4, precision="f32")
    monkeypatch.setenv("OPTLAB_LOCAL_WORKER", "0")
    at = page("home").run()
    assert not at.exception, at.exception
    table = at.dataframe[0].value
    assert table["model"].tolist() == ["second", "first"]
    assert table["top-1 (%)"].tolist()[0] == 50.0
    assert any(link.proto.label == "Compare all results" for link in at.get("page_link"))


def any_page() -> None:
    """What app.py runs on every page before the page itself."""
    from pages.widgets import job_toasts

    job_toasts()


def test_a_toast_says_when_a_job_ends(lab_env, classifier_ir):
    model = lab.add_model_from_path(classifier_ir)
    job, _ = repo.create_job(kind="benchmark", options={}, queue="test", model_id=model.id)
    at = AppTest.from_function(any_page, default_timeout=60).run()
    assert not at.exception, at.exception
    assert not at.toast, "jobs that ended before the page opened are not news"
    repo.claim_job(job.id, pid=1)
    repo.finish_job(job.id, JobStatus.SUCCEEDED)
    at.run()
    assert [t.value for t in at.toast] == [f"Job #{job.id} benchmark succeeded. See the Compare page."]
    at.run()
    assert not at.toast, "each ending is told once"
