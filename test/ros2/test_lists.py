"""List settings in the config file of the real launch file: a list reaches the nodes typed, and an empty
one stays empty (not the setting's default)."""

from __future__ import annotations

import signal
import unittest
from pathlib import Path

import launch_testing
import launch_testing.asserts
import pytest
from graph_client import Client, graph_launch
from rcl_interfaces.msg import ParameterType

STARTED: list[tuple[str, int]] = []


@pytest.mark.launch_test
def generate_test_description():
    return graph_launch({"config": str(Path(__file__).with_name("lists.yaml")), "respawn": "false"}, STARTED)


class ListsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.client = Client("face_affect_lists_test")
        cls.client.wait_ready("classifier")

    @classmethod
    def tearDownClass(cls) -> None:
        cls.client.close()

    def test_a_list_and_an_empty_list_reach_the_classifier(self) -> None:
        models, tasks = self.client.parameters("classifier", ["extra_models", "heatmap_tasks"])
        self.assertEqual(models.type, ParameterType.PARAMETER_STRING_ARRAY)
        self.assertEqual(list(models.string_array_value), ["models/age_mini_xception.onnx"])
        # ROS 2 has no typed empty list: unset, which the node reads as [] (its default is ["emotion"]).
        self.assertEqual(tasks.type, ParameterType.PARAMETER_NOT_SET)


@launch_testing.post_shutdown_test()
class AfterShutdown(unittest.TestCase):
    def test_the_nodes_ended_cleanly(self, proc_info) -> None:
        launch_testing.asserts.assertExitCodes(proc_info, allowable_exit_codes=[0, -signal.SIGINT])
