"""The ROS 1 (rospy) adapters: topics, services, timers, parameters and logs around the node core
(:mod:`face_affect.node_core`), which holds what the nodes do."""
