"""What the estimates of one face cost: each ONNX file on one thread, batch 1, through the runtime.

Issue 32's budget is time, not parameters: every estimate of a face together within 4 ms on one
thread. Each file runs as the nodes run it (``OnnxClassifier``, one onnxruntime thread, its own
graph, mirror averaging included where the file has it; a multi-head file once, for all its heads,
however many settings name it) on a face at its input size; the files
take turns, round after round, so a busy moment of the machine falls on all of them alike.
Reports the median and p90 of each and the sum of the medians. Run on a quiet machine:

``PYTHONPATH=src .venv/bin/python bench/model_cost.py [FILE ...] [--rounds 400]``
(default: the files ``config/default.yaml`` names, each once), JSON in ``bench/results/model_cost.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from face_affect.classifiers import OnnxClassifier, run_heads
from face_affect.settings import SOURCE_ROOT, load_settings, resolve_model_path

BUDGET_MS = 4.0
WARM_UP_ROUNDS = 30


def default_files() -> list[Path]:
    settings = load_settings()
    names = (settings.gender_model, settings.emotion_model, settings.age_model)
    return list(dict.fromkeys(resolve_model_path(name) for name in names))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path, help="ONNX files (default: the three default models)")
    parser.add_argument("--rounds", type=int, default=400)
    parser.add_argument("--output", type=Path, default=SOURCE_ROOT / "bench" / "results" / "model_cost.json")
    arguments = parser.parse_args()
    files = arguments.files or default_files()
    files = list(dict.fromkeys(files))
    heads = [OnnxClassifier.heads(path, threads=1) for path in files]
    rng = np.random.default_rng(0)
    faces = [
        rng.uniform(0, 255, (1, 1, views[0].input_height, views[0].input_width)).astype(np.float32) for views in heads
    ]
    samples: list[list[float]] = [[] for _ in heads]
    for round_index in range(WARM_UP_ROUNDS + arguments.rounds):
        for views, face, times in zip(heads, faces, samples):
            started = time.perf_counter()
            run_heads(views, face)
            if round_index >= WARM_UP_ROUNDS:
                times.append((time.perf_counter() - started) * 1000)
    report = {
        str(path): {"p50_ms": round(float(np.median(times)), 3), "p90_ms": round(float(np.percentile(times, 90)), 3)}
        for path, times in zip(files, samples)
    }
    total = sum(row["p50_ms"] for row in report.values())
    for path, row in report.items():
        print(f"{path}: {row['p50_ms']:.3f} ms (p90 {row['p90_ms']:.3f})")
    print(f"all {len(files)} files, one face: {total:.3f} ms (budget {BUDGET_MS} ms)")
    arguments.output.parent.mkdir(parents=True, exist_ok=True)
    arguments.output.write_text(json.dumps({"files": report, "total_p50_ms": round(total, 3)}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
