"""Model files made wrong on purpose, shared by the library tests and the bad-model rostest."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import onnx
from onnx import helper


def rewrite_metadata(source: Path, target: Path, **changes: str | None) -> Path:
    """A copy of ``source`` with metadata entries replaced (or removed, for None)."""
    model = onnx.load(str(source))
    entries = {entry.key: entry.value for entry in model.metadata_props}
    for key, value in changes.items():
        if value is None:
            entries.pop(key, None)
        else:
            entries[key] = value
    del model.metadata_props[:]
    for key, value in entries.items():
        model.metadata_props.add(key=key, value=value)
    onnx.save(model, str(target))
    return target


def merged_heads(files: dict[str, Path], target: Path) -> Path:
    """A multi-head file made of committed single-task files of one input size: an output per task,
    named after it, computed by that file's own graph from the one ``pixels`` input; metadata
    ``tasks`` and ``labels_<task>``, the input and crop of the first file. Each head then gives
    exactly what its file gives for the same batch."""
    heads = {task: onnx.load(str(path)) for task, path in files.items()}
    first = next(iter(heads.values()))
    first_metadata = {entry.key: entry.value for entry in first.metadata_props}
    nodes, initializers, outputs = [], [], []
    metadata = {"tasks": json.dumps(list(heads))}
    for task, model in heads.items():
        graph = onnx.compose.add_prefix(model, f"{task}/").graph
        result = graph.output[0].name
        for node in graph.node:
            for names in (node.input, node.output):
                for index, name in enumerate(names):
                    if name == result:
                        names[index] = task
        nodes.append(helper.make_node("Identity", ["pixels"], [graph.input[0].name], name=f"{task}/input"))
        nodes.extend(graph.node)
        initializers.extend(graph.initializer)
        output = copy.deepcopy(graph.output[0])
        output.name = task
        outputs.append(output)
        metadata[f"labels_{task}"] = {entry.key: entry.value for entry in model.metadata_props}["labels"]
    pixels = copy.deepcopy(first.graph.input[0])
    merged = helper.make_model(
        helper.make_graph(nodes, "heads", [pixels], outputs, initializers), opset_imports=first.opset_import
    )
    merged.ir_version = first.ir_version
    for key in ("input_color", "input_size", "crop_margin", "normalization"):
        metadata[key] = first_metadata[key]
    for key, value in metadata.items():
        merged.metadata_props.add(key=key, value=value)
    onnx.checker.check_model(merged)
    onnx.save(merged, str(target))
    return target
