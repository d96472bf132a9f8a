import json
from pathlib import Path

import pytest

from conftest import PHOTOS, REPOSITORY, run_cli

pytestmark = pytest.mark.data  # the photos and data sets in ../shared/data


def test_image_command_prints_json_lines_and_annotates(tmp_path: Path):
    completed = run_cli("image", str(PHOTOS / "face_recognition_two_people.jpg"), "--annotate", str(tmp_path))
    assert completed.returncode == 0, completed.stderr
    (line,) = completed.stdout.splitlines()
    record = json.loads(line)
    assert record["width"] == 1126 and record["height"] == 661
    assert len(record["faces"]) == 2
    assert {"box", "gender", "emotion_probabilities"} <= set(record["faces"][0])
    assert (tmp_path / "face_recognition_two_people_annotated.jpg").is_file()


def test_bad_files_are_named_and_the_good_ones_still_processed(tmp_path: Path):
    frame = REPOSITORY / "data" / "frames" / "face_recognition_two_people.jpg"
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    truncated = tmp_path / "truncated.jpg"  # OpenCV alone would decode it, the lower half grey
    truncated.write_bytes(frame.read_bytes()[: frame.stat().st_size // 2])
    text = tmp_path / "notes.jpg"
    text.write_text("not an image")
    good = [PHOTOS / "face_recognition_two_people.jpg", frame]
    paths = [empty, good[0], tmp_path / "missing.jpg", truncated, good[1], text]
    completed = run_cli("image", *map(str, paths))
    assert completed.returncode == 1
    records = [json.loads(line) for line in completed.stdout.splitlines()]
    assert [record["image"] for record in records] == list(map(str, good))
    assert all(len(record["faces"]) == 2 for record in records)
    assert [line for line in completed.stderr.splitlines() if line.startswith("face_affect:")] == [
        f"face_affect: {empty}: empty file",
        f"face_affect: {tmp_path / 'missing.jpg'}: not found",
        f"face_affect: {truncated}: truncated JPEG (no end-of-image marker)",
        f"face_affect: {text}: not a readable image",
    ]
    assert "Traceback" not in completed.stderr and "Premature end" not in completed.stderr  # libjpeg's warning


def test_a_folder_is_expanded_to_its_images():
    completed = run_cli("image", str(PHOTOS))
    assert completed.returncode == 0, completed.stderr
    assert len(completed.stdout.splitlines()) == len(list(PHOTOS.glob("*.jpg")))


def test_a_missing_model_is_a_clear_error_and_a_non_zero_exit(tmp_path: Path):
    config = tmp_path / "config.yaml"
    config.write_text("emotion_model: /nonexistent/emotion.onnx\n")
    completed = run_cli("--config", str(config), "image", str(PHOTOS))
    assert completed.returncode == 2
    assert "/nonexistent/emotion.onnx: model file not found" in completed.stderr
    assert "Traceback" not in completed.stderr


def test_saliency_writes_one_heatmap_image_per_face_and_model(tmp_path: Path):
    import cv2

    image = PHOTOS / "face_recognition_two_people.jpg"
    completed = run_cli("image", str(image), "--saliency", str(tmp_path), "--saliency-tasks", "emotion", "gender")
    assert completed.returncode == 0, completed.stderr
    faces = json.loads(completed.stdout)["faces"]
    written = sorted(path.name for path in tmp_path.iterdir())
    expected = sorted(
        f"{image.stem}_face{index}_{task}_{face[task]}.png"
        for index, face in enumerate(faces)
        for task in ("emotion", "gender")
    )
    assert written == expected
    panel = cv2.imread(str(tmp_path / expected[0]))
    assert panel.shape[1] == 3 * panel.shape[0]
    assert panel.std() > 10
