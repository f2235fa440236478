"""The LLM demo's table: fortune-llama and its weight-compressed children, each measured as the lab
measures them (a 32 prompt × 64 new-token generation point in a process of its own, word perplexity
on held-out fortunes, similarity of the answers to 48 prompts with the parent's).

The 300 held-out fortunes are split: the first 100 calibrate the data-aware recipes, the other 200
score word perplexity, so no recipe is judged on the texts it calibrated on. Prints a Markdown table.

    .venv/bin/python benchmarks/llm_demo.py
"""

from __future__ import annotations

import os
import sys

from lab_setup import demo_texts, fresh_lab, text_dataset

RECIPES = [
    ("INT8 asym", {"mode": "int8_asym"}),
    ("INT4 sym g64", {"mode": "int4_sym", "group_size": 64}),
    ("INT4 sym g64 AWQ + scale estimation", {"mode": "int4_sym", "group_size": 64, "use_data": True, "awq": True,
                                             "scale_estimation": True}),
    ("INT4 sym g64 GPTQ", {"mode": "int4_sym", "group_size": 64, "use_data": True, "gptq": True}),
    ("CB4 g64", {"mode": "cb4", "group_size": 64}),
    ("INT4 asym g128 ratio 0.8", {"mode": "int4_asym", "group_size": 128, "ratio": 0.8}),
]


def main() -> None:
    fresh_lab("llm-demo")
    from core import lab
    from core.compare.generation import generation_rows
    from core.jobs.queue import supervise_job
    from core.optimize.recipes import CompressWeightsOptions
    from core.options import JobKind, JobStatus, MeasureOptions
    from db import repository as repo

    model, _, prompts = lab.ensure_llm_demo()
    texts = demo_texts()
    calibration, perplexity = text_dataset("calibration", texts[:100]), text_dataset("perplexity", texts[100:])
    names = {model.id: "fortune-llama (f16 weights, as trained)"}
    for label, recipe in RECIPES:
        job = lab.submit_optimization(kind=JobKind.COMPRESS_WEIGHTS, model_id=model.id, dataset_id=calibration.id,
                                      options=CompressWeightsOptions.from_dict({"subset_size": 100, **recipe}),
                                      measure=MeasureOptions(dataset_id=perplexity.id, prompts_id=prompts.id))
        supervise_job(job.id)
        done = repo.get_job(job.id)
        assert done.status == JobStatus.SUCCEEDED, done.message
        names[done.result_model_id] = label + (f" (warning: {done.message})" if done.message else "")
        print(f"{label}: job #{job.id} done", file=sys.stderr, flush=True)
    print("| model | size MB | word perplexity | similarity to parent | TTFT ms | TPOT ms | tokens/s (lowest–highest run) "
          "| peak memory MB |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for row in generation_rows((32, 64)):
        similarity = "— (the reference)" if row["model_id"] == model.id else f"{row['similarity']:.3f}"
        print(f"| {names.get(row['model_id'], row['model'])} | {row['size_mb']:.2f} | {row['word_perplexity']:.1f} | "
              f"{similarity} | {row['ttft_ms']:.2f} | {row['tpot_ms']:.3f} | {row['tokens_per_s']:.0f} "
              f"({row['tokens_per_s_low']:.0f}–{row['tokens_per_s_high']:.0f}) | {row['peak_memory_mb']:.0f} |")
    print(f"\nload average {os.getloadavg()}")


if __name__ == "__main__":
    main()
