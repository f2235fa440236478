"""What a job process does for each job kind: the one dispatch table from kind to handler.

A handler is `handler(job, reporter) -> result model id | None`. It reads its inputs, stores its
rows and reports progress through the reporter; it never imports the runner (a sweep runs its
points through `reporter.run_child`, which the runner provides).
"""

from __future__ import annotations

from collections.abc import Callable

from core.jobs.handlers import data, llm, measure, optimize, sweep
from core.options import JobKind

HANDLERS: dict[str, Callable] = {
    JobKind.QUANTIZE: optimize.run_optimize, JobKind.QUANTIZE_WITH_ACCURACY_CONTROL: optimize.run_optimize,
    JobKind.COMPRESS_WEIGHTS: optimize.run_optimize, JobKind.FP16: optimize.run_optimize,
    JobKind.EVALUATE: optimize.run_evaluate, JobKind.BENCHMARK: optimize.run_benchmark_job,
    JobKind.SWEEP: sweep.run_sweep,
    JobKind.BATCH_SWEEP: measure.run_batch_sweep_job, JobKind.PROFILE: measure.run_profile_job,
    JobKind.INTERLEAVED: measure.run_interleaved_job, JobKind.IMPORT_DATA: data.run_import_data,
    JobKind.SENSITIVITY: optimize.run_sensitivity, JobKind.GENERATE_BENCH: llm.run_generate_bench,
    JobKind.IMPORT_MODEL: data.run_import_model, JobKind.QAT: optimize.run_optimize, JobKind.PRUNE: optimize.run_optimize,
}
