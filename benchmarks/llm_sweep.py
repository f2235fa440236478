"""A 6-point ratio × group-size sweep of data-aware INT4 compression (AWQ + scale estimation) of the
LLM demo, with and without NNCF's statistics cache, interleaved.

Each round runs the same sweep twice in a fresh lab: statistics cached (collected by the first point,
read by the other five) and not cached (every point collects them again). Prints each sweep's wall
time (database started_at -> finished_at), the time NNCF's compression took summed over its points
(the recipe's `seconds`), and the ratios cached / not cached. The children are measured by one
generation point only, the same in both.

    .venv/bin/python benchmarks/llm_sweep.py [--rounds 2] [--samples 128]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics

from lab_setup import demo_texts, fresh_lab, text_dataset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--samples", type=int, default=128, help="calibration texts (subset size)")
    args = parser.parse_args()
    fresh_lab("llm-sweep")
    from core import lab
    from core.jobs.queue import supervise_job
    from core.optimize.recipes import SweepOptions
    from core.options import JobKind, JobStatus, MeasureOptions
    from core.storage import statistics_folder
    from db import repository as repo

    model, _, _ = lab.ensure_llm_demo()
    calibration = text_dataset("calibration", demo_texts()[:args.samples])
    walls: dict[bool, list[float]] = {True: [], False: []}
    nncf: dict[bool, list[float]] = {True: [], False: []}
    for round_ in range(args.rounds):
        for cached in (True, False):
            shutil.rmtree(statistics_folder(model.id), ignore_errors=True)  # each cached sweep collects once
            sweep = SweepOptions(algorithm=JobKind.COMPRESS_WEIGHTS, base={
                "mode": "int4_sym", "use_data": True, "awq": True, "scale_estimation": True,
                "subset_size": args.samples, "cache_statistics": cached},
                grid={"ratio": [0.6, 0.8, 1.0], "group_size": [32, 64]})
            job = lab.submit_sweep(sweep=sweep, model_id=model.id, dataset_id=calibration.id,
                                   measure=MeasureOptions(measure_parent=False))
            supervise_job(job.id)
            done = repo.get_job(job.id)
            assert done.status == JobStatus.SUCCEEDED, done.message
            points = [repo.get_job(p.id) for p in repo.list_sweep_points(job.id)]
            children = [repo.get_model(p.result_model_id) for p in points]
            wall = (done.finished_at - done.started_at).total_seconds()
            compress = sum(c.recipe["seconds"] for c in children)
            walls[cached].append(wall)
            nncf[cached].append(compress)
            print(f"round {round_ + 1}: {'cached    ' if cached else 'not cached'} sweep {wall:6.1f} s, NNCF "
                  f"{compress:6.1f} s over {len(children)} points; statistics "
                  f"{[c.recipe.get('statistics', 'not cached') for c in children]}", flush=True)
    wall_ratio = statistics.median(walls[True]) / statistics.median(walls[False])
    nncf_ratio = statistics.median(nncf[True]) / statistics.median(nncf[False])
    print(f"median sweep wall time: cached {statistics.median(walls[True]):.1f} s, not cached "
          f"{statistics.median(walls[False]):.1f} s -> cached / not cached {wall_ratio:.2f}; NNCF time "
          f"{nncf_ratio:.2f}; load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
