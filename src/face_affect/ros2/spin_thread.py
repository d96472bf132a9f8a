"""An rclpy executor spun in a background thread that can be stopped without a race.

``threading.Thread(target=executor.spin)`` followed by ``executor.shutdown()`` from another thread races
with the spinning thread in rclpy (Jazzy): the thread can be left looping in ``wait_for_ready_callbacks``
forever, holding the GIL most of the time. In a launch test that starves the launch loop of the same
process, so the nodes get their SIGINT late and are ended by SIGTERM. Here the thread itself checks a
flag between short waits, and the executor and node are destroyed only after it has been joined.
"""

from __future__ import annotations

import threading

from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node

WAIT_SECONDS = 0.1
"""Longest wait for work between two looks at the stop flag: how long :meth:`SpinThread.stop` may take."""


class SpinThread:
    """Spins ``node`` in a daemon thread until :meth:`stop`."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.executor = SingleThreadedExecutor()
        self.executor.add_node(node)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._spin, name=f"spin {node.get_name()}", daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        while not self._stopping.is_set() and self.node.context.ok():
            self.executor.spin_once(timeout_sec=WAIT_SECONDS)

    def stop(self) -> None:
        """Ends the thread, then the executor; the caller destroys the node."""
        self._stopping.set()
        self._thread.join()
        self.executor.shutdown()
