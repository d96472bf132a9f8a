"""The node core: what the ROS nodes do, whichever ROS carries their messages.

Nothing here imports rospy or rclpy. The adapters, :mod:`face_affect.ros` (ROS 1) and
:mod:`face_affect.ros2` (ROS 2), create the topics, services, timers and parameters, and hand
the core their messages, a :class:`~face_affect.node_core.messages.MessageKit` (the message
classes and time conversion of their ROS) and a :class:`~face_affect.node_core.host.NodeHost`
(clock and log). ROS 1 and ROS 2 messages have the same fields, so the core reads and builds
both the same way.
"""
