"""Fault soak of the real ROS graph: a long run at camera rate with a fault every few minutes.

``launch/face_affect.launch`` (respawn on, as shipped) runs under a master of its own, fed
VGA frames at ``--rate`` Hz (bench/ros_graph.py's pan over one face). Every
``--fault-every`` seconds one fault, in turn:

- ``kill classifier`` / ``kill detector``: ``kill -9`` of the node's process;
- ``camera gap``: no frames for ``FAULT_SECONDS``;
- ``malformed frames``: for ``FAULT_SECONDS``, each good frame is followed by a bad one
  (truncated, unsupported encoding, empty, stamped an hour ahead);
- ``hostile faces``: for ``FAULT_SECONDS``, messages on ``/face_affect/faces`` whose crops do
  not match their boxes, with NaN scores, boxes outside the image, 300 faces, far-off stamps.

Checks (issue 18's soak): no node lost for good (both answer at the end, results in the last
30 s); results for at least 95% of the good frames outside the fault windows (a kill's window
is ``KILL_WINDOW_SECONDS``, the others last the fault plus ``AFTER_FAULT_SECONDS``); resident
memory of each node process grows by less than 10 MB from ``WARM_SECONDS`` after its start to
its end. JSON and the launch log go to bench/results/. The default is the 30-minute soak:

    make bench-fault_soak                  # BENCH_ARGS="--duration 300 --fault-every 30": a short try

with the catkin build sourced. It is not part of CI.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import os
import signal
import sys
import time
import xmlrpc.client
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import rosgraph
import rospy
from ros_graph import (
    BENCH_NODE,
    IMAGE_TOPIC,
    NODES,
    LaunchedGraph,
    MonitoredProcess,
    ResultsRecorder,
    free_port,
    image_messages,
    machine_description,
    sleep_until_next,
    wait_for_connections,
    wait_for_ready,
)
from sensor_msgs.msg import Image

from face_affect.msg import FaceDetectionArray
from face_affect.settings import SOURCE_ROOT, load_settings

FAULTS = ("kill classifier", "camera gap", "malformed frames", "hostile faces", "kill detector")
FAULT_SECONDS = 10.0
KILL_WINDOW_SECONDS = 15.0  # issue 18: results within 15 s of a kill
AFTER_FAULT_SECONDS = 1.0  # issue 18: results within 1 s after a camera gap
WARM_SECONDS = 60.0  # a process's memory is measured from this long after its start
SAMPLE_SECONDS = 5.0
ANSWERED_LIMIT = 0.95
RSS_GROWTH_LIMIT_MEGABYTES = 10.0
FACES_TOPIC = "/face_affect/faces"


@dataclass
class Fault:
    kind: str
    start: float  # ROS (wall) time
    end: float
    window_end: float
    recovered_after: float | None = None  # seconds from the kill, or from the fault's end, to the next result


@dataclass
class Incarnations:
    """Every process a node has had (a respawn is a new one), sampled from /proc."""

    node: str
    processes: list[MonitoredProcess] = field(default_factory=list)
    started: dict[int, float] = field(default_factory=dict)

    def sample(self, pid: int | None, elapsed: float) -> None:
        if pid is None or not Path(f"/proc/{pid}").exists():
            return
        if pid not in self.started:
            self.started[pid] = elapsed
            self.processes.append(MonitoredProcess(self.node, pid))
        process = next(process for process in self.processes if process.pid == pid)
        with contextlib.suppress(OSError, RuntimeError):  # it died between the check and the read
            process.sample(elapsed)

    def growth(self) -> list[dict[str, float]]:
        """Per process that lived past WARM_SECONDS: RSS at its end minus RSS WARM_SECONDS after its start."""
        rows = []
        for process in self.processes:
            start = self.started[process.pid]
            warm = [sample for sample in process.samples if sample.elapsed_seconds >= start + WARM_SECONDS]
            if len(warm) >= 2:
                rows.append(
                    {
                        "pid": process.pid,
                        "started_at": round(start, 1),
                        "measured_seconds": round(warm[-1].elapsed_seconds - warm[0].elapsed_seconds, 1),
                        "rss_start_megabytes": round(warm[0].resident_megabytes, 2),
                        "rss_growth_megabytes": round(warm[-1].resident_megabytes - warm[0].resident_megabytes, 2),
                        "rss_samples": [
                            (sample.elapsed_seconds, round(sample.resident_megabytes, 2)) for sample in process.samples
                        ],
                    }
                )
        return rows


def node_pid(node: str) -> int | None:
    try:
        api = rosgraph.Master(BENCH_NODE).lookupNode(node)
        code, _message, pid = xmlrpc.client.ServerProxy(api).getPid(BENCH_NODE)
    except (OSError, rosgraph.MasterError, xmlrpc.client.Error):
        return None
    return pid if code == 1 else None


def malformed_frames(good: Image) -> list[tuple[Image, float]]:
    """Bad camera frames, each with the offset of its stamp from the clock in seconds."""
    truncated = copy.deepcopy(good)
    truncated.data = truncated.data[: len(truncated.data) // 2]
    floats = Image(height=48, width=64, encoding="32FC1", step=256, data=bytes(48 * 256))
    empty = Image(height=0, width=0, encoding="bgr8", step=0, data=b"")
    return [(truncated, 0.0), (floats, 0.0), (empty, 0.0), (copy.deepcopy(good), 3600.0)]


def hostile_faces(template: FaceDetectionArray) -> list[tuple[FaceDetectionArray, float]]:
    """Variants of a real faces message, each wrong in one way the classifier must refuse, with stamp offsets."""

    def variant(change) -> FaceDetectionArray:
        message = copy.deepcopy(template)
        change(message)
        return message

    small_crop = copy.deepcopy(template.faces[0].crop)
    small_crop.height, small_crop.width, small_crop.step = 4, 4, 4
    small_crop.data = bytes(16)
    return [
        (variant(lambda message: setattr(message.faces[0], "crop", small_crop)), 0.0),
        (variant(lambda message: setattr(message.faces[0], "score", float("nan"))), 0.0),
        (variant(lambda message: setattr(message.faces[0].roi, "x_offset", 100_000)), 0.0),
        (variant(lambda message: setattr(message, "faces", message.faces[:1] * 300)), 0.0),
        (copy.deepcopy(template), -3600.0),
    ]


class FaceTemplate:
    """The newest real faces message with a crop, to alter into hostile ones."""

    def __init__(self) -> None:
        self.message: FaceDetectionArray | None = None
        self.subscriber = rospy.Subscriber(FACES_TOPIC, FaceDetectionArray, self.receive, queue_size=1)

    def receive(self, message: FaceDetectionArray) -> None:
        if message.faces and message.faces[0].crop.data:
            self.message = message


def schedule(duration: float, every: float) -> list[tuple[float, str]]:
    """(seconds from the start, kind) of each fault: the first half a period in, none in the last 30 s."""
    times = np.arange(every / 2, duration - 30.0, every)
    return [(float(moment), FAULTS[index % len(FAULTS)]) for index, moment in enumerate(times)]


def run(arguments: argparse.Namespace) -> dict[str, object]:
    machine = machine_description()
    messages = image_messages("vga_1_face", arguments.rate)
    bad_frames = malformed_frames(messages[0])
    graph = LaunchedGraph(free_port(), arguments.detector, arguments.output.with_suffix(".log"))
    faults: list[Fault] = []
    good_frames: list[tuple[int, float]] = []  # (stamp ns, ROS time sent)
    incarnations = {node: Incarnations(node) for node in NODES}
    try:
        graph.wait_for_master()
        os.environ["ROS_MASTER_URI"] = graph.master_uri
        rospy.init_node(BENCH_NODE.lstrip("/"), disable_signals=True)
        recorder = ResultsRecorder()
        template = FaceTemplate()
        publisher = rospy.Publisher(IMAGE_TOPIC, Image, queue_size=2)
        faces_publisher = rospy.Publisher(FACES_TOPIC, FaceDetectionArray, queue_size=2)
        wait_for_ready(graph)
        wait_for_connections(graph, publisher, recorder)
        planned = schedule(arguments.duration, arguments.fault_every)
        print(
            f"graph ready on {graph.master_uri}; {arguments.duration:g} s at {arguments.rate:g} Hz, "
            f"{len(planned)} faults",
            flush=True,
        )
        period = 1.0 / arguments.rate
        start = time.monotonic()
        next_time, next_sample, sequence, hostile = start, 0.0, 0, None
        active: Fault | None = None
        while (elapsed := time.monotonic() - start) < arguments.duration:
            now = rospy.Time.now()
            if planned and elapsed >= planned[0][0]:
                _, kind = planned.pop(0)
                seconds = now.to_sec()
                long_fault = not kind.startswith("kill")
                end = seconds + (FAULT_SECONDS if long_fault else 0.0)
                active = Fault(kind, seconds, end, end + (AFTER_FAULT_SECONDS if long_fault else KILL_WINDOW_SECONDS))
                faults.append(active)
                print(f"  {elapsed:6.0f} s: {kind}", flush=True)
                if kind.startswith("kill"):
                    pid = node_pid(f"/face_affect/{kind.split()[1]}")
                    if pid is not None:
                        os.kill(pid, signal.SIGKILL)
                elif kind == "hostile faces" and template.message is not None:
                    hostile = hostile_faces(template.message)
            in_fault = active is not None and now.to_sec() < active.end
            if not (in_fault and active.kind == "camera gap"):
                message = messages[sequence % len(messages)]
                message.header.seq, message.header.stamp = sequence, now
                publisher.publish(message)
                good_frames.append((now.to_nsec(), now.to_sec()))
            if in_fault and active.kind == "malformed frames":
                bad, offset = bad_frames[sequence % len(bad_frames)]
                bad.header.stamp = now + rospy.Duration(offset)
                publisher.publish(bad)
            if in_fault and active.kind == "hostile faces" and hostile:
                message, offset = hostile[sequence % len(hostile)]
                message.header.stamp = now + rospy.Duration(offset)
                faces_publisher.publish(message)
            sequence += 1
            if elapsed >= next_sample:
                for node, record in incarnations.items():
                    record.sample(node_pid(node), elapsed)
                next_sample += SAMPLE_SECONDS
            next_time = sleep_until_next(next_time, period)
        final_pids = {node: node_pid(node) for node in NODES}
        time.sleep(2.0)  # the last frames' results
        rospy.signal_shutdown("soak finished")
    finally:
        graph.stop()
    return report(arguments, machine, faults, good_frames, recorder, incarnations, final_pids, graph)


def report(arguments, machine, faults, good_frames, recorder, incarnations, final_pids, graph) -> dict[str, object]:
    answered = {result.stamp_nanoseconds for result in recorder.received}
    arrivals = sorted(result.stamp_nanoseconds / 1e9 + result.latency_seconds for result in recorder.received)
    for fault in faults:
        since = fault.start if fault.kind.startswith("kill") else fault.end
        later = [arrival for arrival in arrivals if arrival > since + (0.5 if fault.kind.startswith("kill") else 0)]
        fault.recovered_after = round(later[0] - since, 2) if later else None

    def in_window(seconds: float) -> bool:
        return any(fault.start <= seconds < fault.window_end for fault in faults)

    outside = [stamp for stamp, sent in good_frames if not in_window(sent)]
    answered_outside = sum(stamp in answered for stamp in outside)
    last_sent = good_frames[-1][1]
    growth = {node: record.growth() for node, record in incarnations.items()}
    figures = {
        "good_frames": len(good_frames),
        "good_frames_outside_faults": len(outside),
        "answered_outside_faults": answered_outside,
        "answered_fraction_outside_faults": round(answered_outside / max(len(outside), 1), 4),
        "results_in_last_30_s": sum(arrival > last_sent - 30 for arrival in arrivals),
        "final_pids": final_pids,
        "processes_per_node": {node: len(record.processes) for node, record in incarnations.items()},
        "max_rss_growth_megabytes": {
            node: max((row["rss_growth_megabytes"] for row in rows), default=None) for node, rows in growth.items()
        },
    }
    checks = [
        (
            all(final_pids.values()) and figures["results_in_last_30_s"] > 0,
            f"no node lost for good: final pids {final_pids}, "
            f"{figures['results_in_last_30_s']} results in the last 30 s",
        ),
        (
            figures["answered_fraction_outside_faults"] >= ANSWERED_LIMIT,
            f"results for {100 * figures['answered_fraction_outside_faults']:.2f}% of {len(outside)} good frames "
            f"outside the fault windows (>= {100 * ANSWERED_LIMIT:g}%)",
        ),
        (
            all(
                value is not None and value < RSS_GROWTH_LIMIT_MEGABYTES
                for value in figures["max_rss_growth_megabytes"].values()
            ),
            f"resident memory growth per node process, worst: {figures['max_rss_growth_megabytes']} MB "
            f"(< {RSS_GROWTH_LIMIT_MEGABYTES:g})",
        ),
        (
            all(
                fault.recovered_after is not None
                and fault.recovered_after
                < (KILL_WINDOW_SECONDS if fault.kind.startswith("kill") else AFTER_FAULT_SECONDS)
                for fault in faults
            ),
            "results again within 15 s of each kill and 1 s after each other fault: "
            + ", ".join(f"{fault.kind} {fault.recovered_after} s" for fault in faults),
        ),
    ]
    return {
        "settings": {
            "duration": arguments.duration,
            "rate": arguments.rate,
            "fault_every": arguments.fault_every,
            "detector": arguments.detector,
            "scene": "vga_1_face",
        },
        "machine": {**machine, "load_average_at_end": [round(load, 2) for load in os.getloadavg()]},
        "figures": figures,
        "faults": [fault.__dict__ for fault in faults],
        "memory": growth,
        "acceptance": [{"passed": passed, "check": line} for passed, line in checks],
        "launch_log": str(graph.log_path),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=1800.0, help="seconds (1800: the 30-minute soak)")
    parser.add_argument("--rate", type=float, default=30.0, help="frames per second published")
    parser.add_argument("--fault-every", type=float, default=120.0, help="seconds between faults")
    default_detector = load_settings(SOURCE_ROOT / "config" / "default.yaml").detector
    parser.add_argument("--detector", choices=("blazeface", "haar"), default=default_detector)
    parser.add_argument("--output", type=Path, help="JSON file (default bench/results/fault_soak_<duration>s.json)")
    arguments = parser.parse_args()
    if arguments.output is None:
        arguments.output = SOURCE_ROOT / "bench" / "results" / f"fault_soak_{arguments.duration:g}s.json"
    result = run(arguments)
    for entry in result["acceptance"]:
        print(("PASS " if entry["passed"] else "FAIL ") + entry["check"])
    arguments.output.parent.mkdir(parents=True, exist_ok=True)
    arguments.output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written: {arguments.output} (launch log {result['launch_log']})")
    return 0 if all(entry["passed"] for entry in result["acceptance"]) else 1


if __name__ == "__main__":
    sys.exit(main())
