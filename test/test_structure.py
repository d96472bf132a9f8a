"""The library's shape: no import cycle, a detector registry, classifier tasks from model files, typed settings."""

from __future__ import annotations

import ast
import inspect
import json
import re
from pathlib import Path

import numpy as np
import pytest

from conftest import GENDER_MODEL, REPOSITORY, run_cli
from face_affect.detectors import create_detector, detector_names, register_detector
from face_affect.errors import ModelError, SettingsError
from face_affect.pipeline import FaceAffectPipeline
from face_affect.settings import SETTINGS, Settings, load_settings, parse_assignment
from face_affect.types import FaceBox
from model_files import rewrite_metadata

PHOTOS = REPOSITORY / "data" / "frames"  # bundled: the structure needs none of ../shared/data
# The library's own folder: with the catkin devel space first, ``face_affect`` itself is the devel space's package
# (generated messages only, its path extended to src/), so a module's file says where the library lies.
PACKAGE = Path(inspect.getfile(FaceAffectPipeline)).resolve().parent


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Modules of ``face_affect`` that a file imports, at any depth of its code."""
    imported = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("face_affect"):
            imported.add(node.module)
            imported.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names if alias.name.startswith("face_affect"))
    return imported


def test_no_module_of_the_package_takes_part_in_an_import_cycle():
    modules = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    graph = {
        name: {target for target in imports_of(path) if target in modules and target != name}
        for name, path in modules.items()
    }
    # A package's __init__ importing its own modules is how a package exposes them, not a cycle.
    for name in graph:
        graph[name] = {target for target in graph[name] if not target.startswith(name + ".")}
    state: dict[str, str] = {}

    def visit(name: str, trail: list[str]) -> None:
        state[name] = "open"
        for target in sorted(graph[name]):
            if state.get(target) == "open":
                cycle = trail[trail.index(target) :] + [target] if target in trail else [name, target]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target, [*trail, target])
        state[name] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])


def test_no_function_level_import_inside_the_library():
    """Imports sit at the top of each module (the set-up-only tflite converter is the one exception)."""
    allowed = {("face_affect.detectors.blazeface_model", "tflite2onnx")}
    found = []
    for path in PACKAGE.rglob("*.py"):
        for function in ast.walk(ast.parse(path.read_text())):
            if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for node in ast.walk(function):
                    if isinstance(node, (ast.Import, ast.ImportFrom)):
                        names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else [node.module]
                        found += [
                            (module_name(path), name) for name in names if (module_name(path), name) not in allowed
                        ]
    assert found == []


class OneBoxDetector:
    """A trivial backend: one fixed face in the middle of every frame."""

    model_path = Path("/dev/null")

    def __init__(self, size: int) -> None:
        self.size = size

    def detect(self, image: np.ndarray) -> list[FaceBox]:
        height, width = image.shape[:2]
        return [FaceBox((width - self.size) // 2, (height - self.size) // 2, self.size, self.size, 0.9)]


def test_a_new_detector_backend_is_one_class_and_its_registration():
    register_detector("one_box", lambda settings: OneBoxDetector(settings.min_face_size))
    assert "one_box" in detector_names()
    detector = create_detector({"detector": "one_box", "min_face_size": 64})
    assert isinstance(detector, OneBoxDetector) and detector.size == 64
    pipeline = FaceAffectPipeline.from_settings({"detector": "one_box", "min_face_size": 64})
    (face,) = pipeline.process(np.full((240, 320, 3), 128, np.uint8))
    assert face.box == FaceBox(128, 88, 64, 64, 0.9)
    assert set(face.attributes) == {"gender", "emotion", "age"}


def test_an_unknown_detector_is_an_error_listing_the_choices():
    with pytest.raises(SettingsError, match=r"unknown detector 'blazefase'; available: .*blazeface.*haar"):
        create_detector({"detector": "blazefase"})


@pytest.fixture(scope="module")
def third_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The gender network relabelled as another task: new classes, same weights."""
    target = tmp_path_factory.mktemp("models") / "appearance.onnx"
    return rewrite_metadata(GENDER_MODEL, target, task="appearance", labels='["feminine", "masculine"]')


def test_a_third_task_runs_through_the_pipeline_from_its_metadata(third_model: Path, two_people: np.ndarray):
    pipeline = FaceAffectPipeline.from_settings({"extra_models": [str(third_model)]})
    assert pipeline.tasks == ["gender", "emotion", "age", "appearance"]
    results = pipeline.process(two_people)
    assert len(results) == 2
    for result in results:
        appearance = result.attributes["appearance"]
        assert appearance.label in ("feminine", "masculine")
        # Same weights as gender, so the same answer under the new names.
        expected = {"woman": "feminine", "man": "masculine"}[result.gender.label]
        assert appearance.label == expected
        assert appearance.probabilities["masculine"] == pytest.approx(result.gender.probabilities["man"], abs=1e-6)


def test_two_models_of_one_task_are_refused():
    with pytest.raises(ModelError, match="a second model for task 'gender'"):
        FaceAffectPipeline.from_settings({"extra_models": [str(GENDER_MODEL)]})


def test_a_third_task_reaches_the_cli_json(third_model: Path):
    completed = run_cli(
        "--set", f"extra_models=[{third_model}]", "image", str(PHOTOS / "face_recognition_two_people.jpg")
    )
    assert completed.returncode == 0, completed.stderr
    faces = json.loads(completed.stdout)["faces"]
    assert len(faces) == 2
    assert all(face["appearance"] in ("feminine", "masculine") for face in faces)
    assert all(set(face["appearance_probabilities"]) == {"feminine", "masculine"} for face in faces)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"blazeface_score_treshold": 0.4},
            "unknown setting 'blazeface_score_treshold'; did you mean 'blazeface_score_threshold'?",
        ),
        ({"min_face_size": "big"}, "setting 'min_face_size' must be a int, got 'big'"),
        ({"annotate": "yes"}, "setting 'annotate' must be a bool, got 'yes'"),
        ({"heatmap_tasks": "emotion"}, "setting 'heatmap_tasks' must be a list of strings, got 'emotion'"),
        ({"blazeface_input_scale": 0.0}, r"setting 'blazeface_input_scale' must lie in \[0.05, 4\], got 0.0"),
        ({"onnx_threads": 0}, r"setting 'onnx_threads' must lie in \[1, 64\], got 0"),
    ],
)
def test_bad_settings_name_the_key_and_the_value(values: dict, message: str):
    with pytest.raises(SettingsError, match=f"^{message}$" if "\\[" in message else f"^{re.escape(message)}$"):
        load_settings(overrides=values)


def test_a_missing_model_file_is_a_model_error():
    with pytest.raises(ModelError, match="/nonexistent/gender.onnx: model file not found"):
        FaceAffectPipeline.from_settings({"gender_model": "/nonexistent/gender.onnx"})


def test_settings_files_are_checked_and_typed(tmp_path: Path):
    good = tmp_path / "good.yaml"
    good.write_text("detector: haar\nmin_face_size: 30\nblazeface_input_scale: 1\n")
    settings = load_settings(good, {"min_face_size": 20})
    assert (settings.detector, settings.min_face_size, settings.blazeface_input_scale) == ("haar", 20, 1.0)
    bad = tmp_path / "bad.yaml"
    bad.write_text("detecter: haar\n")
    with pytest.raises(
        SettingsError, match=f"^{re.escape(str(bad))}: unknown setting 'detecter'; did you mean 'detector'"
    ):
        load_settings(bad)
    assert load_settings(REPOSITORY / "config" / "default.yaml") == Settings()


def test_set_values_are_read_as_yaml():
    assert parse_assignment("min_face_size=30") == ("min_face_size", 30)
    assert parse_assignment("heatmap_tasks=[emotion, gender]") == ("heatmap_tasks", ["emotion", "gender"])
    assert parse_assignment("annotate=false") == ("annotate", False)
    with pytest.raises(SettingsError, match="expected KEY=VALUE"):
        parse_assignment("min_face_size")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--set", "detecter=haar"], "face_affect: unknown setting 'detecter'; did you mean 'detector'?"),
        (["--set", "min_face_size=big"], "face_affect: setting 'min_face_size' must be a int, got 'big'"),
        (["--set", "blazeface_nms_iou=2"], "face_affect: setting 'blazeface_nms_iou' must lie in [0.001, 1], got 2.0"),
        (["--set", "gender_model=/nonexistent/g.onnx"], "face_affect: /nonexistent/g.onnx: model file not found"),
        (["--set", "detector=nothing"], "face_affect: unknown detector 'nothing'; available: blazeface, haar"),
    ],
)
def test_bad_cli_settings_exit_2_with_one_line(arguments: list[str], message: str):
    completed = run_cli(*arguments, "image", str(PHOTOS / "face_recognition_two_people.jpg"))
    assert completed.returncode == 2
    assert completed.stderr.strip() == message
    assert completed.stdout == ""


def test_bad_cli_config_file_exits_2_with_one_line(tmp_path: Path):
    config = tmp_path / "robot.yaml"
    config.write_text("min_face_size: -3\n")
    completed = run_cli("--config", str(config), "image", str(PHOTOS))
    assert completed.returncode == 2
    assert completed.stderr.strip() == f"face_affect: {config}: setting 'min_face_size' must lie in [1, 10000], got -3"


def test_cli_settings_choose_the_detector():
    image = str(PHOTOS / "face_recognition_two_people.jpg")
    haar = json.loads(run_cli("--set", "detector=haar", "image", image).stdout)["faces"]
    blazeface = json.loads(run_cli("image", image).stdout)["faces"]
    assert len(haar) == len(blazeface) == 2
    assert [face["box"] for face in haar] != [face["box"] for face in blazeface]


def readme_parameters() -> dict[str, tuple[str, str]]:
    """``name: (type, default)`` from the README's parameter table."""
    text = (REPOSITORY / "README.md").read_text()
    table = text[text.index("| parameter | type | default |") :].split("\n\n")[0]
    rows = {}
    for line in table.splitlines()[2:]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        rows[cells[0].strip("`")] = (cells[1], cells[2].strip("`"))
    return rows


def test_the_readme_table_lists_every_setting_with_its_type_and_default():
    documented = readme_parameters()
    assert sorted(documented) == sorted(SETTINGS)
    defaults = Settings()
    for name, item in SETTINGS.items():
        kind = item.type if isinstance(item.type, str) else item.type.__name__
        documented_type, documented_default = documented[name]
        assert documented_type in {"str": ("string", "path")}.get(kind, (kind,)), name
        value = getattr(defaults, name)
        shown = json.dumps(value) if isinstance(value, (bool, list)) else ('""' if value == "" else str(value))
        shown = shown.replace('"', "") if isinstance(value, list) else shown
        assert documented_default == shown, f"{name}: README says {documented_default}, the default is {shown}"


def test_the_results_message_is_built_in_one_place():
    """``FaceAffect`` and ``FaceAffectArray`` are filled by ``node_core.messages.affect_array`` alone: for the nodes
    of both ROS versions and for the bag writer (over ``rosbags``' classes), so they cannot drift apart."""
    built = re.compile(r'FaceAffect(Array)?\(|face_affect/msg/FaceAffect(Array)?"\]\(|RESULTS_TYPE\]\(')
    builders = {module_name(path) for path in PACKAGE.rglob("*.py") if built.search(path.read_text())}
    assert builders == {"face_affect.node_core.messages"}
