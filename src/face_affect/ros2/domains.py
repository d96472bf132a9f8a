"""A ROS 2 domain of its own for a test or benchmark run, and discovery kept on this machine.

Two runs in one ROS domain see each other's nodes; a fixed ``ROS_DOMAIN_ID`` would make parallel runs
(other checkouts, CI jobs) collide. So a run takes an id that no other process here holds, by a lock
file per id, and keeps it while it lives.
"""

from __future__ import annotations

import fcntl
import os
import random
import tempfile
from pathlib import Path

from ament_index_python.packages import get_package_share_directory

_held_domain = None  # the open lock file of this process's domain


def own_domain_id() -> int:
    """A ROS_DOMAIN_ID (1..101) that no other process on this machine holds, held while this process lives."""
    global _held_domain
    folder = Path("/dev/shm") if Path("/dev/shm").is_dir() else Path(tempfile.gettempdir())
    candidates = list(range(1, 102))
    random.shuffle(candidates)
    for domain in candidates:
        lock = open(folder / f"ros_domain_{domain}.lock", "w")  # noqa: SIM115 - held for the process's life
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            lock.close()
            continue
        if _held_domain is not None:
            _held_domain.close()
        _held_domain = lock
        return domain
    raise RuntimeError("every ROS domain id from 1 to 101 is held by another run")


def isolate() -> int:
    """This process and everything it launches: a domain of its own, discovery on this machine only,
    frames whole through shared memory (config/fastdds_large_frames.xml)."""
    domain = own_domain_id()
    os.environ["ROS_DOMAIN_ID"] = str(domain)
    os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    os.environ.setdefault(
        "FASTRTPS_DEFAULT_PROFILES_FILE",
        str(Path(get_package_share_directory("face_affect")) / "config" / "fastdds_large_frames.xml"),
    )
    return domain
