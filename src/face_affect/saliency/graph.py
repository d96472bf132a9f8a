"""A classifier's ONNX graph extended by its own guided back-propagation pass.

Guided back-propagation (Springenberg et al., 2015; Fig. 8 of Arriaga et al.,
2017) is the gradient of one class score with respect to the input pixels,
where every ReLU passes back only positive gradients, and only where its
forward input was positive. Writing that backward pass as ONNX operators lets
onnxruntime compute it next to the forward pass, so the nodes need no torch.

The transformed model takes ``pixels`` (as the classifier does) and ``classes``
(``int64 [N]``: the class per face whose score is explained; negative means the
predicted class) and returns ``gradient`` (``float32``, the shape of ``pixels``),
``probabilities`` and ``explained_classes``. The score is the logit that
enters the graph's final Softmax, not the probability: a probability's gradient
also pushes down every other class.

Supported operators are those ``face_affect.training.export`` writes for
mini-Xception and the sequential CNN (BN folded into the convolutions):
Conv, Relu, MaxPool, AveragePool (windows tiling the input), Add, Sub, Mul, Div,
GlobalAveragePool, Flatten/Reshape, Identity and Dropout (inference), and ReduceMean,
whose outputs are held fixed: a model that standardises each crop (``normalization``
``standardise``) is explained for the crop's own brightness and contrast, its mean and
spread taken as constants, so the map shows which pixels drive the class score, not how
a change of exposure would.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

CLASSES_INPUT = "classes"
GRADIENT_OUTPUT = "gradient"
EXPLAINED_OUTPUT = "explained_classes"
PROBABILITIES_OUTPUT = "probabilities"
# Operators that only reshape or pass their input: the gradient takes the input's shape.
RESHAPING = {"Flatten", "Reshape", "Squeeze", "Unsqueeze"}
PASSING = {"Identity", "Dropout"}
HELD_FIXED = {"ReduceMean"}
"""Operators whose outputs (a crop's statistics) carry no gradient."""


def single_head_model(model: onnx.ModelProto, output: str) -> onnx.ModelProto:
    """The part of a multi-head file's graph that computes ``output`` (one head and the shared trunk),
    with that output renamed :data:`PROBABILITIES_OUTPUT`: a one-Softmax graph, as this module takes."""
    initializers = {initializer.name for initializer in model.graph.initializer}
    inputs = [value.name for value in model.graph.input if value.name not in initializers]
    if output not in [value.name for value in model.graph.output]:
        raise UnsupportedGraphError(f"no output {output!r}")
    head = onnx.utils.Extractor(model).extract_model(inputs, [output])
    for node in head.graph.node:
        for names in (node.input, node.output):
            for index, name in enumerate(names):
                if name == output:
                    names[index] = PROBABILITIES_OUTPUT
    head.graph.output[0].name = PROBABILITIES_OUTPUT
    return head


class UnsupportedGraphError(ValueError):
    """A classifier graph this module cannot differentiate; the text names the operator."""


def attributes(node: onnx.NodeProto) -> dict[str, object]:
    return {attribute.name: helper.get_attribute_value(attribute) for attribute in node.attribute}


class GuidedBackpropagationBuilder:
    """Appends the backward nodes to a copy of the forward graph, last forward node first."""

    def __init__(self, model: onnx.ModelProto) -> None:
        self.model = onnx.shape_inference.infer_shapes(model, strict_mode=True)
        self.graph = self.model.graph
        self.shapes = {
            value.name: [dimension.dim_value or None for dimension in value.type.tensor_type.shape.dim]
            for value in (*self.graph.input, *self.graph.value_info, *self.graph.output)
        }
        self.constants = {
            initializer.name: numpy_helper.to_array(initializer) for initializer in self.graph.initializer
        }
        initializers = set(self.constants)
        inputs = [value for value in self.graph.input if value.name not in initializers]
        if len(inputs) != 1:
            raise UnsupportedGraphError(f"expected one graph input, found {[value.name for value in inputs]}")
        self.pixels = inputs[0].name
        self.backward: list[onnx.NodeProto] = []
        self.gradients: dict[str, list[str]] = defaultdict(list)
        self.counter = 0

    def name(self, hint: str) -> str:
        self.counter += 1
        return f"guided/{hint}_{self.counter}"

    def add(self, operator: str, inputs: list[str], hint: str, **attributes: object) -> str:
        output = self.name(hint)
        self.backward.append(helper.make_node(operator, inputs, [output], name=output, **attributes))
        return output

    def constant(self, value: np.ndarray, hint: str) -> str:
        name = self.name(hint)
        self.graph.initializer.append(numpy_helper.from_array(value, name))
        self.constants[name] = value
        return name

    def shape_of(self, tensor: str) -> list[int | None]:
        if tensor not in self.shapes:
            raise UnsupportedGraphError(f"no inferred shape for {tensor!r}")
        return self.shapes[tensor]

    def build(self) -> onnx.ModelProto:
        forward = list(self.graph.node)
        softmax = [node for node in forward if node.op_type == "Softmax"]
        if len(softmax) != 1 or softmax[0].output[0] != self.graph.output[0].name:
            raise UnsupportedGraphError("the graph must end in one Softmax over the class scores")
        logits = softmax[0].input[0]
        active = self.active_tensors(forward)
        self.seed(logits)
        for node in reversed(forward):
            if node.op_type in ("Softmax", "Constant") or not any(output in self.gradients for output in node.output):
                continue
            gradient = self.collected(node.output[0])
            self.differentiate(node, gradient, [name if name in active else "" for name in node.input])
        pixel_gradient = self.collected(self.pixels)
        self.backward.append(helper.make_node("Identity", [pixel_gradient], [GRADIENT_OUTPUT], name="guided/output"))
        self.graph.node.extend(self.backward)
        del self.graph.value_info[:]
        height_width = self.shape_of(self.pixels)[1:]
        self.graph.output.extend(
            [
                helper.make_tensor_value_info(GRADIENT_OUTPUT, TensorProto.FLOAT, ["batch", *height_width]),
                helper.make_tensor_value_info(EXPLAINED_OUTPUT, TensorProto.INT64, ["batch"]),
            ]
        )
        onnx.checker.check_model(self.model)
        return self.model

    def active_tensors(self, forward: list[onnx.NodeProto]) -> set[str]:
        """Tensors computed from the pixels: only they carry a gradient."""
        active = {self.pixels}
        for node in forward:
            if node.op_type not in HELD_FIXED and any(name in active for name in node.input):
                active.update(node.output)
        return active

    def seed(self, logits: str) -> None:
        """One-hot at the explained class of each face, on the logits."""
        self.graph.input.append(helper.make_tensor_value_info(CLASSES_INPUT, TensorProto.INT64, ["batch"]))
        num_classes = self.shape_of(logits)[1]
        if num_classes is None:
            raise UnsupportedGraphError("the number of classes is not static")
        predicted = self.add("ArgMax", [logits], "predicted", axis=1, keepdims=0)
        zero = self.constant(np.array(0, dtype=np.int64), "zero")
        requested = self.add("Less", [CLASSES_INPUT, zero], "use_predicted")
        self.backward.append(
            helper.make_node(
                "Where", [requested, predicted, CLASSES_INPUT], [EXPLAINED_OUTPUT], name="guided/explained"
            )
        )
        depth = self.constant(np.array(num_classes, dtype=np.int64), "depth")
        values = self.constant(np.array([0.0, 1.0], dtype=np.float32), "one_hot_values")
        self.gradients[logits].append(self.add("OneHot", [EXPLAINED_OUTPUT, depth, values], "seed"))

    def collected(self, tensor: str) -> str:
        """The gradient of ``tensor``: the sum of what each consumer sent back."""
        contributions = self.gradients[tensor]
        if len(contributions) == 1:
            return contributions[0]
        total = self.add("Sum", contributions, "sum")
        self.gradients[tensor] = [total]
        return total

    def differentiate(self, node: onnx.NodeProto, gradient: str, active_inputs: list[str]) -> None:
        handler = self.handlers().get(node.op_type)
        if handler is None and node.op_type in RESHAPING:
            handler = self.reshaping
        if handler is None and node.op_type in PASSING:
            handler = self.passing
        if handler is None:
            raise UnsupportedGraphError(f"no guided back-propagation for {node.op_type} ({node.name})")
        handler(node, gradient, active_inputs)

    def handlers(self) -> dict[str, Callable[[onnx.NodeProto, str, list[str]], None]]:
        return {
            "Relu": self.relu,
            "Conv": self.conv,
            "MaxPool": self.max_pool,
            "AveragePool": self.average_pool,
            "GlobalAveragePool": self.global_average_pool,
            "Add": self.add_or_subtract,
            "Sub": self.add_or_subtract,
            "Mul": self.scale,
            "Div": self.scale,
            "Slice": self.mirror,
        }

    def mirror(self, node: onnx.NodeProto, gradient: str, active_inputs: list[str]) -> None:
        """A whole-axis reversal (the flipped face of test-time augmentation) is its own backward.

        torch exports ``flip`` as a Slice from -1 to -2**63+1 with step -1; other slices are refused.
        """
        if len(node.input) < 5:
            raise UnsupportedGraphError(f"{node.name}: only step -1 slices (mirroring) are supported")
        starts, ends, _, steps = (self.constant_value(tensor) for tensor in node.input[1:5])
        if not (np.all(steps == -1) and np.all(starts == -1) and np.all(ends <= np.iinfo(np.int32).min)):
            raise UnsupportedGraphError(f"{node.name}: only whole-axis reversals are supported among slices")
        self.gradients[active_inputs[0]].append(self.add("Slice", [gradient, *node.input[1:5]], "mirrored"))

    def passing(self, node: onnx.NodeProto, gradient: str, active_inputs: list[str]) -> None:
        self.gradients[active_inputs[0]].append(gradient)

    def reshaping(self, node: onnx.NodeProto, gradient: str, active_inputs: list[str]) -> None:
        shape = self.add("Shape", [active_inputs[0]], "shape")
        self.gradients[active_inputs[0]].append(self.add("Reshape", [gradient, shape], "unflatten"))

    def relu(self, node: onnx.NodeProto, gradient: str, active_inputs: list[str]) -> None:
        """The guided rule: positive gradients only, where the forward input was positive.

        ``Sign`` of the ReLU's output is 1 exactly where its input was positive, 0 elsewhere.
        """
        positive = self.add("Relu", [gradient], "positive_gradient")
        passed = self.add("Sign", [node.output[0]], "forward_mask")
        self.gradients[active_inputs[0]].append(self.add("Mul", [positive, passed], "guided_relu"))

    def conv(self, node: onnx.NodeProto, gradient: str, active_inputs: list[str]) -> None:
        """The input gradient of a convolution: its transpose, with the same weights.

        With stride 1 that transpose is itself a convolution (kernel flipped, in and out
        channels swapped per group), which onnxruntime runs several times faster than
        ConvTranspose; strided convolutions take ConvTranspose.
        """
        if any(active_inputs[1:]):
            raise UnsupportedGraphError(f"{node.name}: convolution weights computed from the input")
        options = attributes(node)
        if options.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
            raise UnsupportedGraphError(f"{node.name}: auto_pad is not supported")
        weight = self.constant_value(node.input[1])
        kernel = list(weight.shape[2:])
        dimensions = len(kernel)
        group = int(options.get("group", 1))
        strides = list(options.get("strides", [1] * dimensions))
        pads = list(options.get("pads", [0] * 2 * dimensions))
        dilations = list(options.get("dilations", [1] * dimensions))
        reach = [dilation * (size - 1) for dilation, size in zip(dilations, kernel)]
        flipped_pads = [reach[axis % dimensions] - pad for axis, pad in enumerate(pads)]
        if any(stride != 1 for stride in strides) or min(flipped_pads) < 0:
            self.transposed(node, gradient, node.input[1], kernel, group, strides, pads, dilations)
            return
        out_channels, in_per_group = weight.shape[:2]
        swapped = weight.reshape(group, out_channels // group, in_per_group, *kernel).swapaxes(1, 2)
        flipped = swapped.reshape(group * in_per_group, out_channels // group, *kernel)
        flipped = np.ascontiguousarray(flipped[(..., *[slice(None, None, -1)] * dimensions)])
        self.gradients[node.input[0]].append(
            self.add(
                "Conv",
                [gradient, self.constant(flipped, "flipped_kernel")],
                "conv_backward",
                kernel_shape=kernel,
                group=group,
                pads=flipped_pads,
                dilations=dilations,
            )
        )

    def constant_value(self, tensor: str) -> np.ndarray:
        """An initializer, possibly behind Identity or a Constant node (as torch exports shared weights)."""
        for node in self.graph.node:
            if tensor in node.output and node.op_type == "Identity":
                return self.constant_value(node.input[0])
            if tensor in node.output and node.op_type == "Constant":
                return numpy_helper.to_array(attributes(node)["value"])
        if tensor not in self.constants:
            raise UnsupportedGraphError(f"{tensor!r} is not a constant")
        return self.constants[tensor]

    def transposed(
        self,
        node: onnx.NodeProto,
        gradient: str,
        weight: str,
        kernel: list[int],
        group: int,
        strides: list[int],
        pads: list[int],
        dilations: list[int],
    ) -> None:
        """ConvTranspose back to the forward input's size (``output_padding`` restores the
        rows and columns a strided window never reached)."""
        source = node.input[0]
        input_size = self.shape_of(source)[2:]
        output_size = self.shape_of(node.output[0])[2:]
        if None in input_size or None in output_size:
            raise UnsupportedGraphError(f"{node.name}: spatial sizes must be static")
        dimensions = len(kernel)
        output_padding = [
            input_size[axis]
            - (
                (output_size[axis] - 1) * strides[axis]
                - pads[axis]
                - pads[axis + dimensions]
                + dilations[axis] * (kernel[axis] - 1)
                + 1
            )
            for axis in range(dimensions)
        ]
        if any(padding < 0 or padding >= stride for padding, stride in zip(output_padding, strides)):
            raise UnsupportedGraphError(f"{node.name}: cannot invert the window geometry")
        self.gradients[source].append(
            self.add(
                "ConvTranspose",
                [gradient, weight],
                "conv_transpose",
                kernel_shape=kernel,
                group=group,
                strides=strides,
                pads=pads,
                dilations=dilations,
                output_padding=output_padding,
            )
        )

    def max_pool(self, node: onnx.NodeProto, gradient: str, active_inputs: list[str]) -> None:
        """Each window's gradient goes to the element that won it, summed where windows overlap.

        The forward MaxPool gets its ``Indices`` output (positions in the flattened input
        tensor), and ScatterElements with ``reduction="add"`` routes the gradient there.
        """
        source = node.input[0]
        indices = self.name("max_pool_indices")
        if len(node.output) > 1 and node.output[1]:
            indices = node.output[1]
        else:
            node.output.append(indices)
        size = self.add("Size", [source], "size")
        one = self.constant(np.array([1], dtype=np.int64), "one")
        flat_size = self.add("Reshape", [size, one], "flat_size")
        zeros = self.add(
            "ConstantOfShape", [flat_size], "zeros", value=helper.make_tensor("zero", TensorProto.FLOAT, [1], [0.0])
        )
        flat = self.constant(np.array([-1], dtype=np.int64), "flat")
        flat_indices = self.add("Reshape", [indices, flat], "flat_indices")
        flat_gradient = self.add("Reshape", [gradient, flat], "flat_gradient")
        routed = self.add("ScatterElements", [zeros, flat_indices, flat_gradient], "unpool", axis=0, reduction="add")
        shape = self.add("Shape", [source], "shape")
        self.gradients[source].append(self.add("Reshape", [routed, shape], "unpooled"))

    def average_pool(self, node: onnx.NodeProto, gradient: str, active_inputs: list[str]) -> None:
        """A depth-wise transposed convolution with the constant averaging kernel.

        Exact when every window lies inside the (padded) input with one divisor, which
        holds for the sequential CNN's 2x2 pools on 48x48 and 64x64 inputs.
        """
        options = attributes(node)
        kernel = list(options["kernel_shape"])
        dimensions = len(kernel)
        strides = list(options.get("strides", [1] * dimensions))
        pads = list(options.get("pads", [0] * 2 * dimensions))
        input_size = self.shape_of(node.input[0])[2:]
        channels = self.shape_of(node.input[0])[1]
        if channels is None or None in input_size:
            raise UnsupportedGraphError(f"{node.name}: channels and spatial sizes must be static")
        partial = any(
            (input_size[axis] + pads[axis] + pads[axis + dimensions] - kernel[axis]) % strides[axis]
            for axis in range(dimensions)
        )
        if partial or (any(pads) and not options.get("count_include_pad", 0)):
            raise UnsupportedGraphError(f"{node.name}: average-pool windows that leave the input")
        share = self.constant(np.array(1.0 / np.prod(kernel), dtype=np.float32), "share")
        if kernel == strides and not any(pads) and dimensions == 2:
            self.gradients[node.input[0]].append(self.repeated(gradient, kernel, input_size, share))
            return
        weight = np.full([channels, 1, *kernel], 1.0 / np.prod(kernel), dtype=np.float32)
        self.transposed(
            node,
            gradient,
            weight=self.constant(weight, "average_kernel"),
            kernel=kernel,
            group=channels,
            strides=strides,
            pads=pads,
            dilations=[1] * dimensions,
        )

    def repeated(self, gradient: str, kernel: list[int], input_size: list[int], share: str) -> str:
        """Each window's share copied over its non-overlapping block: ``[N, C, h, w]`` to
        ``[N, C, h * kh, w * kw]`` by a broadcast, much faster than a strided ConvTranspose."""
        axes = self.constant(np.array([3, 5], dtype=np.int64), "block_axes")
        blocks = self.add("Unsqueeze", [gradient, axes], "blocks")
        block = self.constant(np.array([1, 1, 1, kernel[0], 1, kernel[1]], dtype=np.int64), "block")
        spread = self.add("Expand", [blocks, block], "spread")
        merged = self.constant(np.array([0, 0, *input_size], dtype=np.int64), "merged")
        return self.add("Mul", [self.add("Reshape", [spread, merged], "unblocked"), share], "averaged")

    def global_average_pool(self, node: onnx.NodeProto, gradient: str, active_inputs: list[str]) -> None:
        spatial = self.shape_of(node.input[0])[2:]
        if None in spatial:
            raise UnsupportedGraphError(f"{node.name}: spatial size must be static")
        shape = self.add("Shape", [node.input[0]], "shape")
        spread = self.add("Expand", [gradient, shape], "spread")
        share = self.constant(np.array(1.0 / np.prod(spatial), dtype=np.float32), "share")
        self.gradients[node.input[0]].append(self.add("Mul", [spread, share], "averaged"))

    def add_or_subtract(self, node: onnx.NodeProto, gradient: str, active_inputs: list[str]) -> None:
        output_shape = self.shape_of(node.output[0])
        for position, source in enumerate(active_inputs):
            if not source:
                continue
            if self.shape_of(source) != output_shape:
                raise UnsupportedGraphError(f"{node.name}: broadcasting a computed tensor is not supported")
            negated = node.op_type == "Sub" and position == 1
            self.gradients[source].append(self.add("Neg", [gradient], "negated") if negated else gradient)

    def scale(self, node: onnx.NodeProto, gradient: str, active_inputs: list[str]) -> None:
        """Multiplication or division by a constant or a held-fixed statistic (the input normalisation)."""
        source, factor = active_inputs[0], node.input[1]
        if node.op_type == "Mul" and not source:
            source, factor = active_inputs[1], node.input[0]
        if not source or factor in active_inputs:
            raise UnsupportedGraphError(f"{node.name}: {node.op_type} of two computed tensors is not supported")
        if self.shape_of(source) != self.shape_of(node.output[0]):
            raise UnsupportedGraphError(f"{node.name}: broadcasting a computed tensor is not supported")
        self.gradients[source].append(self.add(node.op_type, [gradient, factor], "scaled"))


def guided_backpropagation_model(model: onnx.ModelProto) -> onnx.ModelProto:
    """A model computing the classifier's outputs and the guided gradient of one class score."""
    return GuidedBackpropagationBuilder(model).build()
