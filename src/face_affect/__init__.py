"""face_affect: real-time face detection with emotion and gender classification.

A plain Python library (numpy, OpenCV, onnxruntime); the ROS nodes are thin adapters,
``face_affect.ros`` (ROS 1) and ``face_affect.ros2`` (ROS 2), over one node core,
``face_affect.node_core``, and ``face_affect.training`` (an optional extra) is the only part
that imports torch. This file imports no package of ours, so the generated ``face_affect.msg`` loads under any Python,
even one without onnxruntime (Debian's ``rostopic``).

Start with ``face_affect.pipeline.FaceAffectPipeline.from_settings({})``.
"""

import os

# onnxruntime 1.32 records telemetry events in ~/.cache/Microsoft/DeveloperTools/.onnxruntime/
# (a device id and a growing SQLite database) unless this is set before it is imported. Nodes
# that watch people write nothing to disk, so it is off unless the user chose otherwise.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
