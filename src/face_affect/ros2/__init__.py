"""The ROS 2 (rclpy) adapters: topics, services, timers, parameters and logs around the node core
(:mod:`face_affect.node_core`), which holds what the nodes do. Messages from ``face_affect_msgs``."""
