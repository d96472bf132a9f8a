"""face_affect: real-time face detection with emotion and gender classification.

A plain Python library (numpy, OpenCV, onnxruntime); the ROS nodes in
``face_affect.ros`` are thin adapters over it, and ``face_affect.training``
(an optional extra) is the only part that imports torch. This file imports
nothing, so the generated ``face_affect.msg`` loads under any Python, even one
without onnxruntime (Debian's ``rostopic``).

Start with ``face_affect.pipeline.FaceAffectPipeline.from_config({})``.
"""
