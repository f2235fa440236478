"""Latency / throughput benchmark of one model, measured the way OpenVINO's benchmark_app measures.

Method (benchmark_app's async "inference only" mode): inputs are filled once with seeded random
values, the first inference is timed on its own, then an AsyncInferQueue is kept full for a
duration (rounded up to a multiple of the request count) or an exact number of iterations.
Per-request latency is the runtime's own start_async -> completion stamp (``InferRequest.latency``);
throughput is ``iterations * batch / wall duration`` of the timed loop.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import BadInputError, ModelFormatError
from core.measure.machine import (
    NOISY_SHARE,
    cpu_seconds,
    describe_precision,
    environment_info,
    int_property,
    load_average,
    other_cpu,
)
from core.options import BenchmarkOptions, PerformanceHint, Precision

_PROGRESS_EVERY_S = 0.5
_STOP_CHECK_EVERY_S = 0.05
AUTO_BATCH_TIMEOUT_MS = 50


@dataclass(frozen=True)
class LatencyStats:
    """Per-inference latency distribution of the timed loop, in milliseconds."""

    median: float
    mean: float
    min: float
    max: float
    p90: float
    p99: float


@dataclass(frozen=True)
class BenchmarkResult:
    """One measured benchmark point; ``to_dict`` is the JSON contract other tools read."""

    model: str
    device: str
    hint: str
    batch: int
    streams: int
    infer_requests: int
    precision: str
    latency_ms: LatencyStats
    throughput_fps: float
    iterations: int
    duration_s: float
    first_inference_ms: float
    compile_ms: float
    environment: dict[str, Any]
    auto_batch: bool = False
    peak_memory_mb: float | None = None
    sweep_point: str | None = None
    repeat: int = 0
    noisy: bool = False  # other processes used over half the cores while it ran (see other_cpu)

    @property
    def latency_per_sample_ms(self) -> float:
        """Median latency divided by the samples one inference carries."""
        return self.latency_ms.median / self.batch

    def to_dict(self) -> dict[str, Any]:
        """Returns a JSON-able dict with exactly the contract keys (latency_ms nested)."""
        return asdict(self)


def _ov_message(error: Exception) -> str:
    """OpenVINO's error text without its 'Exception from src/...' source-location lines."""
    lines = [line.strip() for line in str(error).splitlines()]
    useful = [line for line in lines if line and not line.startswith(("Exception from ", "Check '"))]
    return " ".join(useful) or str(error).strip()


def _rss_mb() -> float | None:
    """Resident memory of this process now, in MB (None where /proc is missing)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return None


def _port_name(port: Any) -> str:
    names = port.get_names()
    return sorted(names)[0] if names else port.get_node().get_friendly_name()


def static_shapes(model: Any, batch: int) -> dict[Any, list[int]]:
    """Static shape for each input: the batch dim (layout 'N', else dim 0) set to ``batch``."""
    shapes = {}
    for port in model.inputs:
        name, shape = _port_name(port), port.get_partial_shape()
        if shape.rank.is_dynamic:
            raise BadInputError(f"Input '{name}' has a dynamic rank; set a static shape for it before benchmarking.")
        layout = port.get_node().layout
        if layout.has_name("N"):
            batch_index = layout.get_index_by_name("N") % len(shape)
        else:
            batch_index = 0 if len(shape) and layout.empty else None
        dims = []
        for index, dim in enumerate(shape):
            if index == batch_index:
                dims.append(batch)
            elif dim.is_dynamic:
                raise BadInputError(f"Input '{name}' has a dynamic dimension {index} in shape {shape}; "
                                    "only the batch dimension can be dynamic. Set a static shape for it: "
                                    "'Set shape' on the Models page, or `python -m core add-model FILE --shape "
                                    f"{name}=...` / `set-shape MODEL_ID --shape {name}=...` (a file: "
                                    f"`benchmark FILE --shape {name}=...`).")
            else:
                dims.append(dim.get_length())
        shapes[port] = dims
    return shapes


def fill_random(tensor: Any) -> None:
    """Fills a tensor like benchmark_app: seed 0, uniform [0, 255] (0/1 for booleans)."""
    rng = np.random.RandomState(np.random.MT19937(np.random.SeedSequence(0)))
    element_type, data = tensor.get_element_type(), tensor.data
    shape = list(tensor.get_shape())
    if element_type.bitwidth < 8:  # packed sub-byte types: random bytes
        data.view(np.uint8)[...] = rng.randint(0, 256, data.shape)
    elif element_type.get_type_name() == "bf16":
        bits = rng.uniform(0, 255, shape).astype(np.float32).view(np.uint32)
        data.view(np.uint16)[...] = ((bits + ((bits & 0x10000) >> 1)) >> 16).astype(np.uint16)
    else:
        high = 1 if data.dtype == np.bool_ else 255
        values = rng.uniform(0, high + (data.dtype.kind in "iub"), shape).astype(data.dtype)
        data[...] = values


def apply_shapes(model: Any, shapes: dict[str, list[int]]) -> None:
    """Reshapes the named inputs of an ov.Model like benchmark_app -shape (-1 keeps a dim dynamic)."""
    import openvino as ov

    ports = {name: port for port in model.inputs for name in port.get_names()}
    unknown = [name for name in shapes if name not in ports]
    if unknown:
        raise BadInputError(f"The model has no input '{unknown[0]}'; its inputs are "
                            + ", ".join(sorted(_port_name(p) for p in model.inputs)) + ".")
    try:
        model.reshape({ports[name]: ov.PartialShape(dims) for name, dims in shapes.items()})
    except Exception as error:
        raise BadInputError(f"The model cannot take the shapes {shapes}: {_ov_message(error)} Give each "
                            "input as many sizes as it has dimensions, keeping the fixed ones.") from error


def run_benchmark(model_path: str | Path, options: BenchmarkOptions, *,
                  progress: Callable[[float, str], None] | None = None,
                  should_stop: Callable[[], bool] | None = None,
                  shapes: dict[str, list[int]] | None = None) -> BenchmarkResult:
    """Compiles a model and measures its latency and throughput like benchmark_app.

    Args:
        model_path: An OpenVINO IR .xml (with its .bin beside it) or an .onnx file.
        options: Device, hint, batch, precision, duration / iterations, streams, requests, warmup.
            ``warmup`` counts the inferences run before timing; the first of them is timed as
            ``first_inference_ms`` and always runs, even with ``warmup=0``.
        progress: Called as ``progress(fraction, message)`` about every 0.5 s of the timed loop.
        should_stop: Polled about every 50 ms of the timed loop; returning True ends it early
            and the result covers the iterations done so far.
        shapes: Input name -> shape to reshape to first (-1 keeps a dimension dynamic), for a
            model with dynamic dimensions other than the batch (benchmark --shape).

    Returns:
        The measured BenchmarkResult.

    Raises:
        ModelFormatError: The model file cannot be read.
        BadInputError: An input has a dynamic non-batch dimension, or the model cannot be
            reshaped / compiled with these options.
    """
    import openvino as ov

    environment = environment_info()  # load average before we add our own load
    core = ov.Core()
    try:
        model = core.read_model(str(model_path))
    except Exception as error:  # OpenVINO raises RuntimeError / OSError variants
        raise ModelFormatError(f"Could not read model '{Path(model_path).name}': {_ov_message(error)} "
                               "Upload an OpenVINO IR (.xml + .bin) or an .onnx file.") from error
    # Automatic batching: the model keeps batch 1 and OpenVINO's BATCH device groups `batch`
    # requests into one inference, so each request still carries one sample.
    if shapes:
        apply_shapes(model, shapes)
    model_batch = 1 if options.auto_batch else options.batch
    device = f"BATCH:{options.device}({options.batch})" if options.auto_batch else options.device
    shapes = static_shapes(model, model_batch)
    if any(port.get_partial_shape() != ov.PartialShape(dims) for port, dims in shapes.items()):
        try:
            model.reshape({port: ov.PartialShape(dims) for port, dims in shapes.items()})
        except Exception as error:
            raise BadInputError(f"The model cannot be reshaped to batch {options.batch}: {_ov_message(error)} "
                                "Try batch 1 or export the model with that batch size.") from error

    config: dict[str, Any] = {}
    if options.hint is not PerformanceHint.NONE:
        config["PERFORMANCE_HINT"] = options.hint.value.upper()
    if options.infer_requests is not None:  # like benchmark_app -nireq
        config["PERFORMANCE_HINT_NUM_REQUESTS"] = options.infer_requests
    if options.streams is not None:
        config["NUM_STREAMS"] = options.streams
    if options.precision is not Precision.DEFAULT:
        config["INFERENCE_PRECISION_HINT"] = options.precision.value
    if options.threads is not None:  # like benchmark_app -nthreads
        config["INFERENCE_NUM_THREADS"] = options.threads
        environment["threads"] = options.threads  # asked for; inference_num_threads is what ran
    if options.auto_batch:
        # A batch still filling when the timed loop drains waits this long (default 1000 ms).
        config["AUTO_BATCH_TIMEOUT"] = AUTO_BATCH_TIMEOUT_MS
    start = time.perf_counter()
    try:
        compiled = core.compile_model(model, device, config)
    except Exception as error:
        raise BadInputError(f"Could not compile the model for {device} with {config}: "
                            f"{_ov_message(error)}") from error
    compile_ms = (time.perf_counter() - start) * 1e3
    environment["inference_num_threads"] = int_property(compiled, "INFERENCE_NUM_THREADS")

    peak_mb = _rss_mb()
    cpu_before, wall_before = cpu_seconds(), time.perf_counter()
    if options.hint is PerformanceHint.LATENCY and options.infer_requests in (None, 1) and not options.auto_batch:
        # benchmark_app's method for the latency hint: one request, synchronous infer().
        loop = _sync_loop(compiled, options, progress, should_stop)
    else:
        loop = _async_loop(ov, compiled, options, progress, should_stop)
    times, iteration, duration_s, first_inference_ms, nireq, loop_peak_mb = loop
    others = other_cpu(cpu_before, cpu_seconds(), time.perf_counter() - wall_before)
    environment.update(other_cpu=others, load_average_end=load_average())
    if progress is not None:
        progress(1.0, f"{iteration} inferences in {duration_s:.1f} s")

    latencies = np.asarray(times, dtype=np.float64)
    median, p90, p99 = (float(v) for v in np.percentile(latencies, [50, 90, 99]))
    stats = LatencyStats(median=median, mean=float(latencies.mean()), min=float(latencies.min()),
                         max=float(latencies.max()), p90=p90, p99=p99)
    peaks = [value for value in (peak_mb, loop_peak_mb) if value is not None]
    return BenchmarkResult(
        model=str(model_path), device=options.device, hint=options.hint.value, batch=options.batch,
        streams=int_property(compiled, "NUM_STREAMS") or 0, infer_requests=nireq,
        precision=describe_precision(compiled), latency_ms=stats,
        throughput_fps=iteration * model_batch / duration_s, iterations=iteration, duration_s=duration_s,
        first_inference_ms=float(first_inference_ms), compile_ms=compile_ms, environment=environment,
        auto_batch=options.auto_batch, peak_memory_mb=round(max(peaks), 1) if peaks else None,
        noisy=others is not None and others > NOISY_SHARE * (os.cpu_count() or 1))


class _Ticker:
    """Stop checks (~50 ms), progress reports (~0.5 s) and memory samples of a timed loop."""

    def __init__(self, options: BenchmarkOptions, progress, should_stop) -> None:
        self.options, self.progress, self.should_stop = options, progress, should_stop
        self.start = time.perf_counter()
        self.next_check, self.next_report = self.start + _STOP_CHECK_EVERY_S, self.start + _PROGRESS_EVERY_S
        self.peak_mb = _rss_mb()

    def stop(self, now: float, iteration: int) -> bool:
        """Called after every inference; True when the caller asked to stop."""
        if now < self.next_check:
            return False
        self.next_check = now + _STOP_CHECK_EVERY_S
        rss = _rss_mb()
        if rss is not None and (self.peak_mb is None or rss > self.peak_mb):
            self.peak_mb = rss
        if self.should_stop is not None and self.should_stop():
            return True
        if self.progress is not None and now >= self.next_report:
            self.next_report = now + _PROGRESS_EVERY_S
            limit, seconds = self.options.iterations, self.options.seconds
            done = iteration / limit if limit else (now - self.start) / seconds
            self.progress(min(done, 1.0), f"{iteration} inferences in {now - self.start:.1f} s")
        return False


def _sync_loop(compiled: Any, options: BenchmarkOptions, progress, should_stop):
    """benchmark_app's sync mode: one request, ``infer()`` back to back, its own latency stamps."""
    request = compiled.create_infer_request()
    for index in range(len(compiled.inputs)):
        fill_random(request.get_input_tensor(index))
    request.infer()
    first_inference_ms = request.latency
    for _ in range(options.warmup - 1):
        request.infer()
    times, iteration, limit, seconds = [], 0, options.iterations, options.seconds
    clock = time.perf_counter
    ticker = _Ticker(options, progress, should_stop)
    start = now = ticker.start
    while (iteration < limit) if limit else (now - start < seconds):
        request.infer()
        times.append(request.latency)
        iteration += 1
        now = clock()
        if ticker.stop(now, iteration):
            break
    duration_s = max(clock() - start, time.get_clock_info("perf_counter").resolution)
    return times, iteration, duration_s, first_inference_ms, 1, ticker.peak_mb


def _async_loop(ov: Any, compiled: Any, options: BenchmarkOptions, progress, should_stop):
    """benchmark_app's async inference-only mode: an AsyncInferQueue kept full."""
    nireq = options.infer_requests or int_property(compiled, "OPTIMAL_NUMBER_OF_INFER_REQUESTS") or 1
    if options.auto_batch:
        nireq = max(nireq, options.batch)  # fewer requests than the batch would wait for its timeout
    queue = ov.AsyncInferQueue(compiled, nireq)
    nireq = len(queue)
    for request in queue:
        for index in range(len(compiled.inputs)):
            fill_random(request.get_input_tensor(index))

    first_id = queue.get_idle_request_id()
    queue.start_async()
    queue.wait_all()
    first_inference_ms = queue[first_id].latency
    for _ in range(options.warmup - 1):
        queue.start_async()
    queue.wait_all()

    times, in_flight, iteration = [], set(), 0
    limit, seconds = options.iterations, options.seconds
    clock = time.perf_counter
    ticker = _Ticker(options, progress, should_stop)
    start = now = ticker.start
    while (iteration < limit) if limit else (now - start < seconds or iteration % nireq):
        idle = queue.get_idle_request_id()
        if idle in in_flight:
            times.append(queue[idle].latency)
        else:
            in_flight.add(idle)
        queue.start_async()
        iteration += 1
        now = clock()
        if ticker.stop(now, iteration):
            break
    queue.wait_all()
    duration_s = max(clock() - start, time.get_clock_info("perf_counter").resolution)
    times.extend(queue[request_id].latency for request_id in in_flight)
    return times, iteration, duration_s, first_inference_ms, nireq, ticker.peak_mb
