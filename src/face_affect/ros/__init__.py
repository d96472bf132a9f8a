"""The ROS adapter layer: the only part of the package, with ``scripts/``, that imports ROS.

``latest``, ``matching``, ``memory``, ``stamps`` and ``throttle`` are plain Python and
importable without ROS, so pytest checks them without a master.
"""
