"""The machine a measurement runs on: what OpenVINO runs a model at, who else used the CPU meanwhile.

Every benchmark row carries environment_info (host, CPU, cores, versions, load average at start and end)
and other_cpu, the cores other processes kept busy during its timed loop; a run beside more than
NOISY_SHARE of the cores is noisy (Compare takes its headline from quieter runs when there are any).
"""

from __future__ import annotations

import os
import platform
import resource
from typing import Any

from core.config import get_settings

NOISY_SHARE = 0.5
_SHORT_PRECISION = {"bfloat16": "bf16", "float32": "f32", "float16": "f16"}


def describe_precision(compiled_model: Any) -> str:
    """Returns the inference precision a compiled model actually uses: 'f32', 'bf16', 'f16', ...

    Args:
        compiled_model: An ``openvino.CompiledModel``.

    Returns:
        The short element-type name, or 'unknown' if the device does not report it.
    """
    try:
        value = compiled_model.get_property("INFERENCE_PRECISION_HINT")
    except RuntimeError:
        return "unknown"
    name = value.get_type_name() if hasattr(value, "get_type_name") else str(value)
    return _SHORT_PRECISION.get(name, name)


def load_average() -> list[float] | None:
    try:
        return [round(value, 2) for value in os.getloadavg()]
    except OSError:
        return None


def cpu_seconds() -> tuple[float, float] | None:
    """(CPU seconds all processes have been busy, incl. time the hypervisor stole; this process's
    CPU seconds, all its threads), or None where /proc/stat is missing."""
    try:
        with open("/proc/stat", encoding="ascii") as handle:
            ticks = [int(value) for value in handle.readline().split()[1:9]]
    except (OSError, ValueError):
        return None
    busy = sum(ticks) - ticks[3] - ticks[4]  # all but idle and iowait
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return busy / os.sysconf("SC_CLK_TCK"), usage.ru_utime + usage.ru_stime


def other_cpu(before, after, wall_s: float) -> float | None:
    """Cores other processes (and the hypervisor) kept busy on average while we measured.

    The 1-minute load average cannot tell: it still holds the lab's own previous work (the NNCF
    run, the last benchmark) for a minute, and every second run on a small machine would count as
    noisy. This reading covers exactly the timed loop and leaves our own threads out.
    """
    if before is None or after is None or wall_s <= 0:
        return None
    return round(max(0.0, (after[0] - before[0]) - (after[1] - before[1])) / wall_s, 2)


def device_default_precision(device: str = "CPU") -> str:
    """The inference precision the device runs a model at when not told ('bf16' on AMX CPUs, else 'f32')."""
    import openvino as ov

    try:
        value = ov.Core().get_property(device, "INFERENCE_PRECISION_HINT")
    except RuntimeError:
        return "unknown"
    name = value.get_type_name() if hasattr(value, "get_type_name") else str(value)
    return _SHORT_PRECISION.get(name, name)


def cpu_name() -> str:
    """The CPU's model name (/proc/cpuinfo), else what the platform reports."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            return next((line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")), cpu)
    except OSError:
        return cpu


def target_info() -> dict[str, Any]:
    """What a worker announces of its machine: OpenVINO's devices, the CPU, the OpenVINO version."""
    import openvino as ov

    return {"devices": list(ov.Core().available_devices), "cpu": cpu_name(), "openvino": ov.get_version()}


def environment_info(compiled_model: Any = None) -> dict[str, Any]:
    """Describes the machine a measurement ran on, so numbers can be compared fairly.

    Args:
        compiled_model: If given, its INFERENCE_NUM_THREADS is added as ``inference_num_threads``.

    Returns:
        host (OPTLAB_HOST or the host name), cpu, logical_cores, openvino, python, load_average
        (1/5/15 min) and maybe threads.
    """
    import openvino as ov

    info: dict[str, Any] = {"host": get_settings().host, "cpu": cpu_name(), "logical_cores": os.cpu_count(),
                            "openvino": ov.get_version(), "python": platform.python_version(),
                            "load_average": load_average()}
    if compiled_model is not None:
        info["inference_num_threads"] = int_property(compiled_model, "INFERENCE_NUM_THREADS")
    return info


def int_property(compiled_model: Any, key: str) -> int | None:
    """An integer property of a compiled model, or None if the device does not report it."""
    try:
        return int(compiled_model.get_property(key))
    except (RuntimeError, TypeError, ValueError):
        return None


if __name__ == "__main__":  # the worker asks this of a short-lived process: it imports no OpenVINO itself
    import json

    print(json.dumps(target_info()))
