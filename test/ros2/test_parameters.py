"""Parameters given on the command line (``--ros-args -p``) to the installed ROS 2 nodes: an int for a float
setting and a list setting are taken; a value of the wrong type or out of range ends the node with one
fatal line naming the setting, exit status 1 and no traceback.

Run by ``make test-ros2``; each node runs in a ROS domain of this process's own (:func:`isolate`).
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest
from ament_index_python.packages import get_package_prefix
from graph_client import TIMEOUT, Client
from rcl_interfaces.msg import ParameterType

from face_affect.ros2.domains import isolate

EXECUTABLES = Path(get_package_prefix("face_affect")) / "lib" / "face_affect"
AGE_MODEL = "models/age_mini_xception.onnx"


def node_command(executable: str, *parameters: str) -> list[str]:
    """The installed node in the namespace of the launch file, with ``name:=value`` parameters."""
    command = [str(EXECUTABLES / executable), "--ros-args", "-r", "__ns:=/face_affect"]
    for parameter in parameters:
        command += ["-p", parameter]
    return command


@pytest.fixture(scope="module")
def domain() -> int:
    return isolate()


@pytest.mark.parametrize(
    ("executable", "parameter", "named"),
    [
        ("detector_node", "track_timeout:=-5.0", "'track_timeout' must lie in [0, 60], got -5.0"),
        ("detector_node", "min_face_size:=2.5", "'min_face_size' must be a int, got 2.5"),
        ("detector_node", "min_face_size:=[]", "'min_face_size' must be a int, got None"),
        ("classifier_node", "extra_models:=[1, 2]", "'extra_models' must be a list of strings, got [1, 2]"),
        ("classifier_node", "heatmap_tasks:=emotion", "'heatmap_tasks' must be a list of strings, got 'emotion'"),
    ],
)
def test_a_bad_value_ends_the_node_with_one_line_naming_it(
    domain: int, executable: str, parameter: str, named: str
) -> None:
    run = subprocess.run(
        node_command(executable, parameter), capture_output=True, text=True, timeout=TIMEOUT, check=False
    )
    output = run.stdout + run.stderr
    assert run.returncode == 1, output
    assert "Traceback" not in output
    fatal = [line for line in output.splitlines() if "[FATAL]" in line]
    assert len(fatal) == 1, output
    assert "cannot start" in fatal[0] and named in fatal[0], output


def stop(process: subprocess.Popen) -> str:
    """Ctrl-C, as a terminal gives it; the node's output after a clean exit (status 0)."""
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 0, output
    assert "Traceback" not in output, output
    return output


def test_ints_for_float_settings_and_list_settings_are_taken(domain: int) -> None:
    """``track_timeout:=2`` (an int, as ROS 1 and the library take it), ``extra_models:=[...]`` (whose default,
    ``[]``, rclpy would type as a byte array) and ``heatmap_tasks:=[]`` (which ROS 2 reads as unset)."""
    repository = Path(__file__).resolve().parents[2]
    classifier = node_command(
        "classifier_node",
        "track_timeout:=2",
        "age_model:=''",
        f"extra_models:=[{repository / AGE_MODEL}]",
        "heatmap_tasks:=[]",
    )
    detector = node_command("detector_node", "track_timeout:=2", "detection_interval:=1")
    environment = {**os.environ, "PYTHONUNBUFFERED": "1"}
    processes = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=environment)
        for command in (classifier, detector)
    ]
    client = Client("face_affect_parameters_test")
    try:
        client.wait_ready("classifier")
        client.wait_ready("detector")
        names = ["track_timeout", "extra_models", "heatmap_tasks"]
        timeout, models, tasks = client.parameters("classifier", names)
        assert timeout.integer_value == 2
        assert models.type == ParameterType.PARAMETER_STRING_ARRAY
        assert list(models.string_array_value) == [str(repository / AGE_MODEL)]
        assert tasks.type == ParameterType.PARAMETER_NOT_SET  # read as an empty list
        (interval,) = client.parameters("detector", ["detection_interval"])
        assert interval.integer_value == 1
    finally:
        client.close()
        outputs = [stop(process) for process in processes]
    assert not any("[FATAL]" in output or "[ERROR]" in output for output in outputs), outputs
