"""Guided back-propagation from the ONNX files: parity with torch autograd, and maps that say something."""

from __future__ import annotations

import copy
from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from conftest import EMOTION_MODEL, GENDER_MODEL, SHARED_DATA
from face_affect.classifiers import OnnxClassifier
from face_affect.cropping import crop_face
from face_affect.errors import ModelError
from face_affect.frames import to_grey
from face_affect.saliency import GuidedBackpropagation, face_panel, guided_image, heatmap_image, overlay
from face_affect.saliency.graph import UnsupportedGraphError, guided_backpropagation_model
from face_affect.settings import MODELS_DIRECTORY

pytestmark = pytest.mark.data  # the photos and data sets in ../shared/data

EMOTION_LABELS = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
PARITY_TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def fer_test_faces() -> np.ndarray:
    """Eight FER-2013 test faces, ``float32 [8, 1, 48, 48]`` raw pixels."""
    with np.load(SHARED_DATA / "fer2013.npz") as archive:
        faces = archive["x_test"][:8]
    return faces[:, None].astype(np.float32)


def torch_guided_gradient(
    network,
    batch: np.ndarray,
    classes: np.ndarray,
    dtype: str,
    flip_average: bool = False,
    normalization: str = "scale",
) -> np.ndarray:
    """The reference: autograd through the training-time network in ``dtype``, each ReLU's
    input gradient clamped at zero by a hook (Springenberg et al.'s guided rule); a standardised
    crop's mean and spread are detached, as the ONNX backward pass holds them fixed."""
    torch = pytest.importorskip("torch", reason="the training extra (torch) is not installed")

    from face_affect.training import graph

    network = copy.deepcopy(network).to(getattr(torch, dtype))
    hooks = [
        module.register_full_backward_hook(lambda module, grad_input, grad_output: (grad_input[0].clamp(min=0),))
        for module in network.modules()
        if isinstance(module, torch.nn.ReLU)
    ]
    try:
        pixels = torch.from_numpy(batch.astype(dtype)).requires_grad_(True)
        if normalization == "standardise":

            def held_fixed(raw):
                mean = raw.mean(dim=(1, 2, 3), keepdim=True).detach()
                variance = ((raw - mean) ** 2).mean(dim=(1, 2, 3), keepdim=True).detach()
                return (raw - mean) / torch.sqrt(variance + graph.STANDARDISATION_FLOOR)

            logits = network(held_fixed(pixels))
            if flip_average:
                logits = (logits + network(held_fixed(torch.flip(pixels, dims=[3])))) / 2
        else:
            logits = graph.InferenceGraph(network, flip_average).logits(pixels)
        logits.gather(1, torch.from_numpy(classes)[:, None]).sum().backward()
    finally:
        for hook in hooks:
            hook.remove()
    return pixels.grad.numpy()[:, 0]


def relative_error(ours: np.ndarray, reference: np.ndarray) -> float:
    """Largest deviation relative to the map's largest value."""
    return float(np.abs(ours - reference).max() / np.abs(reference).max())


def exported_network(
    architecture: str, size: int, path: Path, flip_average: bool = False, normalization: str = "scale"
):
    """A freshly initialised network whose batch norms do something, exported to ``path``."""
    torch = pytest.importorskip("torch", reason="the training extra (torch) is not installed")

    from face_affect.training.export import export_onnx
    from face_affect.training.graph import build_network

    torch.manual_seed(0)
    network = build_network(architecture, len(EMOTION_LABELS))
    with torch.no_grad():
        for module in network.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.2, 0.2)
    network.eval()
    metadata = {"task": "emotion", "labels": EMOTION_LABELS, "crop_margin": [0.0, 0.0, 0.0, 0.0]}
    export_onnx(network, path, (size, size), metadata, flip_average, normalization)
    return network


@pytest.mark.parametrize(
    ("architecture", "size", "flip_average", "normalization"),
    [
        ("mini_xception", 48, False, "scale"),
        ("mini_xception", 48, True, "scale"),
        ("mini_xception", 64, False, "scale"),
        ("sequential_cnn", 48, False, "scale"),
        ("mini_xception", 48, True, "standardise"),
    ],
)
@pytest.mark.training
def test_guided_gradient_matches_torch_autograd(
    architecture: str, size: int, flip_average: bool, normalization: str, tmp_path: Path, fer_test_faces
):

    import cv2

    path = tmp_path / f"{architecture}.onnx"
    network = exported_network(architecture, size, path, flip_average, normalization)
    explainer = GuidedBackpropagation(OnnxClassifier(path))
    # Sub-grey-level dither: in a saturated patch (FER faces have some) every max-pool window
    # ties, and which element wins depends on each library's rounding, not on the algorithm.
    random = np.random.default_rng(1)
    faces = np.stack([cv2.resize(face[0], (size, size))[None] for face in fer_test_faces[:4]])
    faces += random.uniform(-0.5, 0.5, faces.shape).astype(np.float32)
    noise = random.uniform(0, 255, (2, 1, size, size)).astype(np.float32)
    batch = np.concatenate([faces, noise])
    compared = 0
    for classes in (None, [0, 3, 6, 5, 4, 1]):
        maps = explainer.explain_batch(batch, classes)
        if classes is not None:
            assert list(maps.classes) == classes
        exact = torch_guided_gradient(network, batch, maps.classes, "float64", flip_average, normalization)
        single = torch_guided_gradient(network, batch, maps.classes, "float32", flip_average, normalization)
        for ours, reference, torch_single in zip(maps.gradients, exact, single):
            # A guided map jumps where a ReLU input or a max-pool race is within rounding of
            # its threshold: there float32 sides with either outcome, torch's own included.
            # Such inputs are left out; torch float32 must meet the tolerance for a map to count.
            if relative_error(torch_single, reference) >= PARITY_TOLERANCE:
                continue
            compared += 1
            assert relative_error(ours, reference) < PARITY_TOLERANCE
    assert compared >= 8, f"only {compared} of 12 maps are well-conditioned"


def test_predicted_class_and_probabilities_are_the_classifiers(fer_test_faces):
    classifier = OnnxClassifier(EMOTION_MODEL)
    maps = GuidedBackpropagation(classifier).explain_batch(fer_test_faces)
    probabilities = classifier.predict_batch(fer_test_faces)
    np.testing.assert_allclose(maps.probabilities, probabilities, rtol=1e-5, atol=1e-6)
    assert list(maps.classes) == list(probabilities.argmax(axis=1))
    assert maps.class_names == [classifier.labels[index] for index in probabilities.argmax(axis=1)]


def test_maps_differ_between_classes_and_faces(fer_test_faces):
    explainer = GuidedBackpropagation(OnnxClassifier(EMOTION_MODEL))
    first_face = np.repeat(fer_test_faces[:1], len(EMOTION_LABELS), axis=0)
    per_class = explainer.explain_batch(first_face, list(range(len(EMOTION_LABELS)))).gradients
    per_face = explainer.explain_batch(fer_test_faces).gradients
    for maps in (per_class, per_face):
        assert all(gradient.std() > 0 for gradient in maps)
        unit = maps.reshape(len(maps), -1) / np.linalg.norm(maps.reshape(len(maps), -1), axis=1, keepdims=True)
        similarity = unit @ unit.T
        off_diagonal = similarity[~np.eye(len(maps), dtype=bool)]
        assert off_diagonal.max() < 0.99, "two maps are (nearly) the same"


def test_gender_maps_on_request(pipeline, two_people):
    explainer = GuidedBackpropagation(OnnxClassifier(GENDER_MODEL))
    boxes = pipeline.detect(two_people)
    crops = [crop_face(to_grey(two_people), box, explainer.classifier.crop_margin) for box in boxes]
    maps = explainer.explain(crops, classes=["woman"] * len(crops))
    assert maps.gradients.shape == (len(crops), 64, 64)
    assert maps.class_names == ["woman"] * len(crops)
    assert explainer.explain([]).gradients.shape == (0, 64, 64)
    with pytest.raises(ValueError):
        explainer.explain(crops, classes=["woman"])


def test_images_of_a_map(fer_test_faces):
    gradient = GuidedBackpropagation(OnnxClassifier(EMOTION_MODEL)).explain_batch(fer_test_faces[:1]).gradients[0]
    magnitude = np.abs(gradient)
    heatmap = heatmap_image(gradient)
    assert heatmap.dtype == np.uint8 and heatmap.shape == (48, 48)
    # 255 from the 99th percentile of the magnitude up, in proportion below it.
    saturated = magnitude >= np.percentile(magnitude, 99)
    assert (heatmap[saturated] == 255).all() and 0.005 < saturated.mean() < 0.02
    weak = magnitude < 0.25 * np.percentile(magnitude, 99)
    assert (heatmap[weak] < 64).all()
    assert not heatmap_image(np.zeros((48, 48), np.float32)).any()
    # The signed rendering: mid-grey at the mean, brighter where the gradient is larger.
    guided = guided_image(gradient).astype(int)
    order = np.argsort(gradient.ravel())
    assert guided.ravel()[order[-1]] > 127 + 10 and guided.ravel()[order[0]] < 127 - 10
    assert abs(int(np.median(guided)) - 127) <= 30
    face = fer_test_faces[0, 0].astype(np.uint8)
    coloured = overlay(face, heatmap)
    assert coloured.shape == (48, 48, 3)
    # Where the map is hot the overlay is red-dominated (jet), where it is cold blue-dominated.
    hot, cold = heatmap == 255, heatmap == 0
    assert coloured[hot][:, 2].mean() > coloured[hot][:, 0].mean() + 40
    if cold.any():
        assert coloured[cold][:, 0].mean() > coloured[cold][:, 2].mean()
    panel = face_panel(face, gradient, height=96)
    assert panel.shape == (96, 288, 3)
    # Left third: the face itself, grey, resized; middle: the guided map; right: the overlay.
    np.testing.assert_allclose(panel[:, :96, 0], cv2.resize(face, (96, 96)), atol=1)
    assert (panel[:, :96, 0] == panel[:, :96, 2]).all() and (panel[:, 96:192, 0] == panel[:, 96:192, 2]).all()
    assert not (panel[:, 192:, 0] == panel[:, 192:, 2]).all()


def test_an_operator_without_a_backward_rule_is_a_clear_error(tmp_path: Path):
    graph = helper.make_graph(
        [
            helper.make_node("Sigmoid", ["pixels"], ["hidden"]),
            helper.make_node("Softmax", ["hidden"], ["probabilities"]),
        ],
        "sigmoid",
        [helper.make_tensor_value_info("pixels", TensorProto.FLOAT, ["batch", 2])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", 2])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    with pytest.raises(UnsupportedGraphError, match="Sigmoid"):
        guided_backpropagation_model(model)


def test_a_model_without_a_backward_rule_is_a_model_error(tmp_path: Path):
    path = tmp_path / "emotion.onnx"
    model = onnx.load(str(EMOTION_MODEL))
    for node in model.graph.node:
        if node.op_type == "Relu":
            node.op_type = "Sigmoid"
    onnx.save(model, str(path))
    with pytest.raises(ModelError, match="no guided back-propagation"):
        GuidedBackpropagation(OnnxClassifier(path))


def test_age_maps_explain_the_most_probable_age_class(pipeline, two_people):
    """The age model is explained like the classifiers: its most probable class of ages, or a class asked for."""
    classifier = OnnxClassifier(MODELS_DIRECTORY / "age_mini_xception.onnx")
    explainer = GuidedBackpropagation(classifier)
    crops = [crop_face(to_grey(two_people), box, classifier.crop_margin) for box in pipeline.detect(two_people)]
    maps = explainer.explain(crops)
    assert len(crops) == 2 and all(gradient.std() > 0 for gradient in maps.gradients)
    np.testing.assert_allclose(maps.probabilities, classifier.predict(crops), rtol=1e-5, atol=1e-6)
    assert maps.class_names == [classifier.labels[index] for index in maps.probabilities.argmax(axis=1)]
    child = explainer.explain(crops, classes=["6.0"] * len(crops))
    assert child.class_names == ["6.0", "6.0"] and not np.allclose(child.gradients, maps.gradients)
