"""The Compare page's A/B view: every metric side by side, the interleaved A B A B ratio with its
spread (run as a background job) and the per-layer diff of stored profiles (missing ones run as jobs)."""

from typing import Any

import streamlit as st

from core import lab
from core.compare import ab as compare_ab
from core.compare import table as compare
from core.errors import AppError
from core.options import BenchmarkOptions
from pages.forms import invalid, options_form
from pages.tables import table
from pages.widgets import current_job_panel, job_panel, plain, press_key

# The interleaved summary's columns: B / A over the rounds.
ROUND_TITLES = {"median": ("B / A median", "%.3f"), "min": ("lowest round", "%.3f"),
                "max": ("highest round", "%.3f"), "cv": ("CV over rounds", "percent")}


def ab_view(rows: list[dict[str, Any]]) -> None:
    """Draws the A/B section for the shown results rows."""
    st.subheader("A/B")
    labels = {r["key"]: f"{r['model']} @ {r['precision']}" for r in rows}
    keys, (parent, child) = list(labels), compare.default_ab(rows)  # the parent against its newest child
    a_column, b_column = st.columns(2)
    key_a = a_column.selectbox("A", keys, index=keys.index(parent), format_func=labels.get)
    key_b = b_column.selectbox("B", keys, index=keys.index(child), format_func=labels.get)
    interleaved = compare_ab.interleaved_summary(key_a, key_b)
    table([{**row, "B / A": "—" if row["B / A"] is None else f"{row['B / A']:.3f}"}  # no literal None
           for row in compare.ab_comparison(rows, key_a, key_b, interleaved)])
    _interleaved(key_a, key_b, interleaved)
    _layer_diff(key_a, key_b, labels)


def _interleaved(key_a: str, key_b: str, summary: list[dict[str, Any]]) -> None:
    st.write("**Interleaved A B A B** (machine noise hits both alike; B / A per round, then median and range)")
    if summary:
        table(summary, titles=ROUND_TITLES)
    else:
        st.caption("No interleaved run of this A and B yet.")
    with st.expander("Run interleaved A/B"):
        rounds = st.number_input("Rounds (A B pairs)", 1, 20, 3)
        try:
            values = options_form(BenchmarkOptions, skip=("precision",), key="ab")
            if invalid(values):
                raise AppError("Fix the option marked above to run the interleaved A/B.")
            benchmark = BenchmarkOptions(**values)
            st.caption(f"Each side runs at its row's precision; about {2 * rounds * benchmark.seconds:.0f} s.")
            if st.button("Run interleaved A/B", type="primary"):
                st.session_state.ab_job = lab.submit_interleaved(
                    key_a, key_b, benchmark=benchmark, rounds=rounds,
                    idempotency_key=press_key("ab", "ab_job", [key_a, key_b, rounds, benchmark.to_dict()])).id
        except AppError as error:
            st.error(plain(error))
    current_job_panel("ab_job")


def _layer_diff(key_a: str, key_b: str, labels: dict[str, str]) -> None:
    st.write("**Per-layer diff** (stored profiles; time per layer type and the precision it ran in)")
    diff = compare_ab.layer_diff(key_a, key_b)
    if diff is not None:
        table(diff)
    else:
        missing = compare_ab.missing_profiles(key_a, key_b)
        st.info(f"No stored profile of {' or '.join(plain(labels[k]) for k in missing)} at its precision.")
        if st.button("Run missing profile(s)"):
            try:
                jobs = lab.submit_missing_profiles(
                    key_a, key_b, idempotency_key=press_key("ab-profile", "ab_profile_job", [key_a, key_b]))
                st.session_state.setdefault("ab_profile_jobs", {})[(key_a, key_b)] = [job.id for job in jobs]
                st.session_state.ab_profile_job = jobs[0].id if jobs else None
            except AppError as error:
                st.error(plain(error))
    for job_id in st.session_state.get("ab_profile_jobs", {}).get((key_a, key_b), []):
        job_panel(job_id)
