"""Multi-head model files: one network, an output per task, loaded once and run once per face.

The file under test is made of the committed gender and age files (:func:`model_files.merged_heads`):
each head then gives exactly what its own file gives, which these tests hold the runtime to.
"""

import json
from pathlib import Path

import numpy as np
import onnx
import pytest

from conftest import EMOTION_MODEL, GENDER_MODEL, MODELS_DIRECTORY, SHARED_DATA
from face_affect.classifiers import FaceClassifiers, OnnxClassifier
from face_affect.cropping import crop_face
from face_affect.errors import ModelError
from face_affect.frames import to_grey
from face_affect.pipeline import FaceAffectPipeline
from face_affect.saliency import GuidedBackpropagation
from face_affect.settings import Settings, resolve_model_path
from face_affect.training.calibration import set_graph_temperature, temperature_scaled
from face_affect.training.datasets import LabelledSplits
from face_affect.training.framing import model_faces, reframed, resized
from model_files import merged_heads, rewrite_metadata

pytestmark = pytest.mark.data  # a photo and FER-2013 faces of ../shared/data
AGE_MODEL = MODELS_DIRECTORY / "age_mini_xception.onnx"
FER2013_FRAMING = (0.0, 0.0, 0.0, 0.021)
"""FER-2013's framing, measured by the detector on its validation split (the emotion file's crop margin)."""


@pytest.fixture(scope="module")
def heads_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return merged_heads({"gender": GENDER_MODEL, "age": AGE_MODEL}, tmp_path_factory.mktemp("heads") / "heads.onnx")


def faces(count: int = 5) -> np.ndarray:
    return np.random.default_rng(0).uniform(0, 255, (count, 1, 64, 64)).astype(np.float32)


def test_each_head_is_its_task_and_gives_what_its_file_gives(heads_file: Path):
    gender, age = OnnxClassifier.heads(heads_file)
    assert (gender.task, age.task) == ("gender", "age")
    assert gender.session is age.session  # loaded once
    assert gender.labels == OnnxClassifier(GENDER_MODEL).labels and age.labels == OnnxClassifier(AGE_MODEL).labels
    batch = faces()
    np.testing.assert_allclose(
        gender.predict_batch(batch), OnnxClassifier(GENDER_MODEL).predict_batch(batch), atol=1e-6
    )
    np.testing.assert_allclose(age.predict_batch(batch), OnnxClassifier(AGE_MODEL).predict_batch(batch), atol=1e-6)
    assert OnnxClassifier(heads_file, expected_task="age").labels == age.labels


def test_a_multi_head_file_needs_a_task_that_it_has(heads_file: Path):
    with pytest.raises(ModelError, match="multi-head file of tasks \\['gender', 'age'\\]; name the task"):
        OnnxClassifier(heads_file)
    with pytest.raises(ModelError, match="no 'emotion' head, its tasks are \\['gender', 'age'\\]"):
        OnnxClassifier(heads_file, expected_task="emotion")


def test_malformed_multi_head_metadata_is_reported(heads_file: Path, tmp_path: Path):
    no_labels = rewrite_metadata(heads_file, tmp_path / "no_labels.onnx", labels_age=None)
    with pytest.raises(ModelError, match="metadata lacks labels_age"):
        OnnxClassifier(no_labels, task="age")
    twice = rewrite_metadata(heads_file, tmp_path / "twice.onnx", tasks=json.dumps(["gender", "gender"]))
    with pytest.raises(ModelError, match="must name each task once"):
        OnnxClassifier.heads(twice)
    unnamed = rewrite_metadata(
        heads_file, tmp_path / "unnamed.onnx", tasks=json.dumps(["gender", "emotion"]), labels_emotion='["a", "b"]'
    )
    with pytest.raises(ModelError, match="no output named 'emotion'"):
        OnnxClassifier(unnamed, task="emotion")


def test_a_file_named_for_several_tasks_runs_once_per_batch_of_faces(heads_file: Path, two_people: np.ndarray):
    settings = {"gender_model": str(heads_file), "age_model": str(heads_file)}
    classifiers = FaceClassifiers.from_settings(settings)
    assert classifiers.tasks == ["gender", "emotion", "age"]
    assert classifiers.model_files == [str(heads_file), str(resolve_model_path(Settings().emotion_model))]
    assert [[head.task for head in heads] for heads in classifiers.sessions] == [["gender", "age"], ["emotion"]]
    pipeline = FaceAffectPipeline.from_settings(settings)
    boxes = pipeline.detect(two_people)
    assert boxes
    margin = classifiers.crop_margin
    probabilities = classifiers.probabilities(pipeline.face_crops(two_people, boxes), boxes, margin)
    grey = to_grey(two_people)
    separate = FaceClassifiers([OnnxClassifier(GENDER_MODEL), OnnxClassifier(AGE_MODEL)])
    for task in ("gender", "age"):
        # The same crops (the multi-head file's framing) through the task's own file.
        own = OnnxClassifier(heads_file, task=task)
        expected = separate.classifiers[task].predict([crop_face(grey, box, own.crop_margin) for box in boxes])
        np.testing.assert_allclose(probabilities[task], expected, atol=1e-5)
    results = pipeline.process(two_people)
    assert [result.gender.label for result in results] == ["man", "man"]
    assert all(result.attributes["age"].value > 13 for result in results)
    assert classifiers.probabilities([], [], margin)["age"].shape == (0, len(classifiers.labels("age")))


def test_an_extra_model_brings_every_head(heads_file: Path, tmp_path: Path):
    extra = merged_heads({"age": AGE_MODEL, "second_gender": GENDER_MODEL}, tmp_path / "extra.onnx")
    classifiers = FaceClassifiers.from_settings({"age_model": "", "extra_models": [str(extra)]})
    assert classifiers.tasks == ["gender", "emotion", "age", "second_gender"] and len(classifiers.sessions) == 3
    emotion = str(MODELS_DIRECTORY / "emotion_mini_xception.onnx")
    settings = {"gender_model": emotion, "emotion_model": emotion, "age_model": "", "extra_models": [str(heads_file)]}
    with pytest.raises(ModelError, match="task is 'emotion', expected 'gender'"):
        FaceClassifiers.from_settings(settings)  # a single-task file is of one task only
    with pytest.raises(ModelError, match="a second model for task 'gender'"):
        FaceClassifiers.from_settings({"age_model": "", "extra_models": [str(heads_file)]})
    with pytest.raises(ModelError, match="a second model for task 'gender'"):
        FaceClassifiers.from_settings({"gender_model": str(heads_file), "extra_models": [str(heads_file)]})


def test_heatmaps_explain_one_head(heads_file: Path):
    batch = faces(3)
    head = GuidedBackpropagation(OnnxClassifier(heads_file, task="gender")).explain_batch(batch)
    own = GuidedBackpropagation(OnnxClassifier(GENDER_MODEL)).explain_batch(batch)
    np.testing.assert_allclose(head.probabilities, own.probabilities, atol=1e-6)
    np.testing.assert_allclose(head.gradients, own.gradients, atol=1e-5)
    assert head.labels == ("woman", "man")


def test_each_head_has_its_own_temperature(heads_file: Path, tmp_path: Path):
    path = tmp_path / "calibrated.onnx"
    path.write_bytes(heads_file.read_bytes())
    batch = faces()
    before = {head.task: head.predict_batch(batch) for head in OnnxClassifier.heads(path)}
    set_graph_temperature(path, 2.0, head="age")
    after = {head.task: head.predict_batch(batch) for head in OnnxClassifier.heads(path)}
    np.testing.assert_allclose(after["gender"], before["gender"], atol=1e-7)
    np.testing.assert_allclose(after["age"], temperature_scaled(before["age"], 2.0), atol=1e-5)
    metadata = {entry.key: entry.value for entry in onnx.load(str(path)).metadata_props}
    assert json.loads(metadata["temperature_age"]) == 2.0 and "temperature" not in metadata


def fer2013_faces(validation: int = 120, test: int = 6) -> LabelledSplits:
    """A few real FER-2013 faces: enough validation faces for the detector to measure their framing."""
    with np.load(SHARED_DATA / "fer2013.npz") as archive:
        return LabelledSplits(
            tuple(str(name) for name in archive["class_names"]),
            {"val": archive["x_val"][:validation], "test": archive["x_test"][:test]},
            {"val": archive["y_val"][:validation].astype(np.int64), "test": archive["y_test"][:test].astype(np.int64)},
        )


def probabilities(classifier: OnnxClassifier, images: np.ndarray) -> np.ndarray:
    return classifier.predict_batch(images[:, None].astype(np.float32))


def test_a_task_of_any_file_sees_the_faces_in_that_files_framing(heads_file: Path, tmp_path: Path):
    """What the benches and evaluate-heads show a model: its task's head, the faces in its framing and size."""
    data, emotion = fer2013_faces(), OnnxClassifier(EMOTION_MODEL)
    # An emotion head trained in FER-2013's own framing: its faces are shown as they are (measured on them).
    emotion_heads = merged_heads({"emotion": EMOTION_MODEL}, tmp_path / "emotion_heads.onnx")
    head, faces = model_faces(emotion_heads, "emotion", data)
    assert (head.task, head.output_name, sorted(faces.images)) == ("emotion", "emotion", ["test", "val"])
    assert faces.images["test"] is data.images["test"] and faces.labels["test"] is data.labels["test"]
    np.testing.assert_allclose(probabilities(head, faces.images["test"]), probabilities(emotion, data.images["test"]))
    # The same head in UTKFace's framing (train-heads' files): the faces are moved into it first.
    utkface = OnnxClassifier(GENDER_MODEL).crop_margin
    moved = reframed(data.images["test"], FER2013_FRAMING, utkface)
    reframed_heads = rewrite_metadata(emotion_heads, tmp_path / "utkface.onnx", crop_margin=json.dumps(list(utkface)))
    head, faces = model_faces(reframed_heads, "emotion", data, ("test",), source=FER2013_FRAMING)
    assert sorted(faces.images) == ["test"] and not np.array_equal(faces.images["test"], data.images["test"])
    np.testing.assert_allclose(probabilities(head, faces.images["test"]), probabilities(emotion, moved), atol=1e-6)
    # A 64 px head (the gender and age file): moved, then resized to its input.
    head, faces = model_faces(heads_file, "gender", data, ("test",), source=FER2013_FRAMING)
    assert faces.images["test"].shape == (6, 64, 64)
    expected = probabilities(OnnxClassifier(GENDER_MODEL), resized(moved, 64, 64))
    np.testing.assert_allclose(probabilities(head, faces.images["test"]), expected, atol=1e-6)
    with pytest.raises(ModelError, match="no 'emotion' head"):
        model_faces(heads_file, "emotion", data)
