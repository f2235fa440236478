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
