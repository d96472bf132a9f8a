"""``record_results`` (ROS 1): what ``make demo`` keeps, written by the core's
:class:`~face_affect.node_core.recorder.ResultRecorder`. Once it has recorded ``~duration`` seconds, it ends the
roslaunch that started it as Ctrl-C does (:func:`end_launch`): the demo ends as the
success it is, not with a dead required node.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from xmlrpc.client import Error as XmlRpcError
from xmlrpc.client import ServerProxy

import rospy
from sensor_msgs.msg import Image

from face_affect.msg import FaceAffectArray
from face_affect.node_core.recorder import ResultRecorder
from face_affect.ros.images import BUFF_SIZE
from face_affect.ros.messages import ROS1_KIT


def record_results() -> int:
    """Records for ``~duration`` seconds after the first result (0: until shut down).

    Returns the exit status: 1 when no result came within ``~startup_timeout`` seconds.
    """
    output_directory = Path(rospy.get_param("~output_dir", "demo_output")).resolve()
    duration = float(rospy.get_param("~duration", 0.0))
    startup_timeout = float(rospy.get_param("~startup_timeout", 120.0))
    image_interval = float(rospy.get_param("~image_interval", 1.0))
    recorder = ResultRecorder(output_directory, image_interval, ROS1_KIT, rospy.logwarn)
    subscribers = [
        rospy.Subscriber("results", FaceAffectArray, recorder.receive_results, queue_size=30),
        rospy.Subscriber("annotated", Image, recorder.receive_annotated, queue_size=2, buff_size=BUFF_SIZE),
    ]
    rospy.on_shutdown(recorder.first_result.set)
    if not recorder.first_result.wait(startup_timeout) or not recorder.has_results:
        rospy.logerr(f"{rospy.get_name()}: no results within {startup_timeout:g} s")
        recorder.close()
        return 1
    if duration > 0:
        rospy.sleep(duration)
    else:
        rospy.spin()
    for subscriber in subscribers:
        subscriber.unregister()
    summary = recorder.finish()
    rospy.loginfo(f"{rospy.get_name()}:\n{summary}")
    if duration > 0 and end_launch():
        rospy.spin()  # until the launch's shutdown reaches this node
    return 0


def launching_process() -> int | None:
    """The pid of the roslaunch that started this node, or ``None`` (started by rosrun, or a test).

    A roslaunch server lists its XML-RPC address under ``/roslaunch/uris`` and answers ``get_pid``;
    the one whose pid is this process's parent started it."""
    parent = os.getppid()
    try:
        addresses = rospy.get_param("/roslaunch/uris", {})
    except (KeyError, OSError):
        return None
    for address in addresses.values():
        try:
            _, _, pid = ServerProxy(address).get_pid()
        except (OSError, ValueError, XmlRpcError):
            continue
        if pid == parent:
            return parent
    return None


def end_launch() -> bool:
    """Asks the roslaunch that started this node to end the launch, as Ctrl-C does (SIGINT: every node is
    stopped in turn, this one too); False where no roslaunch started it."""
    pid = launching_process()
    if pid is None:
        return False
    rospy.loginfo(f"{rospy.get_name()}: recording done, ending the launch")
    os.kill(pid, signal.SIGINT)
    return True
