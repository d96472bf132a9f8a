"""What the ROS graph benchmarks measure, whichever ROS runs the graph: CPU time and memory of each node's
process from /proc, and the latency and count of results (bench/ros_graph.py for ROS 1, bench/ros2_graph.py)."""

from __future__ import annotations

import math
import os
import platform
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from scenes import percentiles

CLOCK_TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")
SAMPLE_INTERVAL_SECONDS = 10.0
EDGE_FRACTION = 0.1  # "first and last 10% of the run" for the backlog check


@dataclass
class ProcessSample:
    """One reading of a process's accumulated CPU time and resident memory."""

    elapsed_seconds: float
    cpu_seconds: float
    resident_megabytes: float


@dataclass
class MonitoredProcess:
    """A node's process, sampled from /proc so the figures include everything the process does."""

    name: str
    pid: int
    samples: list[ProcessSample] = field(default_factory=list)

    def sample(self, elapsed_seconds: float) -> None:
        cpu_seconds, resident_megabytes = read_process(self.pid)
        self.samples.append(ProcessSample(round(elapsed_seconds, 3), cpu_seconds, resident_megabytes))

    def summary(self) -> dict[str, object]:
        first, last = self.samples[0], self.samples[-1]
        seconds = last.elapsed_seconds - first.elapsed_seconds
        interval_cores = [
            (after.cpu_seconds - before.cpu_seconds) / (after.elapsed_seconds - before.elapsed_seconds)
            for before, after in zip(self.samples, self.samples[1:])
            if after.elapsed_seconds > before.elapsed_seconds
        ]
        return {
            "pid": self.pid,
            "cpu_cores": round((last.cpu_seconds - first.cpu_seconds) / seconds, 3),
            "cpu_cores_max_interval": round(max(interval_cores), 3),
            "resident_megabytes_start": round(first.resident_megabytes, 2),
            "resident_megabytes_end": round(last.resident_megabytes, 2),
            "resident_megabytes_max": round(max(sample.resident_megabytes for sample in self.samples), 2),
            "resident_megabytes_growth": round(last.resident_megabytes - first.resident_megabytes, 2),
            "samples": [asdict(sample) for sample in self.samples],
        }


def read_process(pid: int) -> tuple[float, float]:
    """``(utime + stime in seconds, VmRSS in MB of 10**6 bytes)`` of a live process."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat.rsplit(")", 1)[1].split()  # the command name may contain spaces and parentheses
    cpu_seconds = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS_PER_SECOND  # fields 14 and 15 of proc(5)
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return cpu_seconds, int(line.split()[1]) * 1024 / 1e6
    raise RuntimeError(f"process {pid} reports no VmRSS")


def read_machine_ticks() -> dict[str, int]:
    """All-core CPU time from /proc/stat: busy, and busy at nice > 0 (background jobs such as training)."""
    values = [int(value) for value in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    user, nice, system, _idle, _iowait, interrupts, soft_interrupts, steal = values
    return {"busy": user + nice + system + interrupts + soft_interrupts + steal, "nice": nice}


def machine_description() -> dict[str, object]:
    cpu_model = platform.processor() or platform.machine()
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu_model = line.split(":", 1)[1].strip()
            break
    return {
        "cpu_model": cpu_model,
        "nproc": len(os.sched_getaffinity(0)),
        "cores_online": os.cpu_count(),
        "load_average_at_start": [round(load, 2) for load in os.getloadavg()],
    }


@dataclass
class ReceivedResult:
    stamp_nanoseconds: int
    latency_seconds: float
    faces: int
    widths: tuple[int, ...] = ()


def latency_per_interval(by_stamp: list[ReceivedResult]) -> list[dict[str, float]]:
    """p50 and p99 per sampling interval, by stamp: shows when a slow tail happened (a soak's drift)."""
    start = by_stamp[0].stamp_nanoseconds
    intervals: dict[int, list[float]] = {}
    for result in by_stamp:
        index = int((result.stamp_nanoseconds - start) / 1e9 // SAMPLE_INTERVAL_SECONDS)
        intervals.setdefault(index, []).append(result.latency_seconds)
    return [
        {"from_second": index * SAMPLE_INTERVAL_SECONDS, "results": len(latencies), **percentiles(latencies)}
        for index, latencies in sorted(intervals.items())
    ]


def latency_figures(results: list[ReceivedResult], published: int) -> dict[str, object]:
    latencies = [result.latency_seconds for result in results]
    edge = max(1, math.ceil(EDGE_FRACTION * len(results)))
    by_stamp = sorted(results, key=lambda result: result.stamp_nanoseconds)
    out_of_order = sum(
        1 for before, after in zip(results, results[1:]) if after.stamp_nanoseconds < before.stamp_nanoseconds
    )
    return {
        "frames_published": published,
        "results_received": len(results),
        "results_per_frame": round(len(results) / published, 4) if published else 0.0,
        "latency_milliseconds": {**percentiles(latencies), "max": round(max(latencies) * 1e3, 3)},
        "latency_p50_first_10_percent_milliseconds": percentiles(
            [result.latency_seconds for result in by_stamp[:edge]]
        )["p50"],
        "latency_p50_last_10_percent_milliseconds": percentiles(
            [result.latency_seconds for result in by_stamp[-edge:]]
        )["p50"],
        "results_older_than_previous": out_of_order,
        "latency_per_interval_milliseconds": latency_per_interval(by_stamp),
        "faces_per_result": round(float(np.mean([result.faces for result in results])), 3),
        "results_with_a_face": round(float(np.mean([result.faces > 0 for result in results])), 4),
        "face_widths_seen": sorted({width for result in results for width in result.widths}),
        "faces_histogram": {str(faces): count for faces, count in sorted(Counter(r.faces for r in results).items())},
    }


def sleep_until_next(tick: float, period: float) -> float:
    """Sleeps until ``tick + period`` (``time.monotonic()``) and returns that tick. The schedule is
    absolute, so a late frame does not shift the ones after it; more than one period late, it skips
    ahead instead of sending a burst."""
    tick += period
    delay = tick - time.monotonic()
    if delay > 0:
        time.sleep(delay)
    elif delay < -period:
        tick = time.monotonic()
    return tick


class PeriodicSamples:
    """Samples every process now (the measured run's start), every :data:`SAMPLE_INTERVAL_SECONDS` when
    :meth:`when_due` is called, and at :meth:`finish`; ``progress(elapsed)`` is told of each interval."""

    def __init__(self, processes: list[MonitoredProcess], progress: Callable[[float], None] | None = None) -> None:
        self.processes = processes
        self.progress = progress
        self.start = time.monotonic()
        self.next_sample = SAMPLE_INTERVAL_SECONDS
        self.sample(0.0)

    def sample(self, elapsed: float) -> None:
        for process in self.processes:
            process.sample(elapsed)

    def when_due(self, elapsed: float) -> None:
        if elapsed >= self.next_sample:
            self.sample(time.monotonic() - self.start)
            self.next_sample += SAMPLE_INTERVAL_SECONDS
            if self.progress is not None:
                self.progress(elapsed)

    def finish(self) -> float:
        """The last sample; returns the measured run's seconds."""
        elapsed = time.monotonic() - self.start
        self.sample(elapsed)
        return elapsed
