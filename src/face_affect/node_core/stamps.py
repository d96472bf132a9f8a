"""Header stamps checked against the node's clock before tracking takes them as the frame's time.

One message stamped an hour ahead would end every track (their timeout passes at once) and
then make the next good frame look like time going backwards. So input stamped far from the
node's clock is rejected, and counted, like any malformed message. A bag replayed with
``rosbag play --clock`` and ``/use_sim_time`` moves the clock with it and passes; played
without, its old stamps are refused with a message that says so.
"""

from __future__ import annotations

from dataclasses import dataclass

from face_affect.settings import Settings


class StampError(ValueError):
    """A header stamp too far from the node's clock to be this frame's time."""


@dataclass(frozen=True)
class StampLimits:
    """How far behind (``max_age``) and ahead (``max_ahead``) of the clock a stamp may be, in seconds."""

    max_age: float
    max_ahead: float

    @classmethod
    def from_settings(cls, settings: Settings) -> StampLimits:
        return cls(max_age=settings.stamp_max_age, max_ahead=settings.stamp_max_ahead)

    def frame_seconds(self, stamp: float, now: float) -> float:
        """The frame's time: its stamp, or ``now`` for an unstamped (zero) frame; :class:`StampError` if far off."""
        if stamp == 0:
            return now
        behind = now - stamp
        if behind > self.max_age:
            raise StampError(
                f"stamp {behind:.1f} s behind the clock (stamp_max_age {self.max_age:g} s); "
                "play bags with `rosbag play --clock` and /use_sim_time true"
            )
        if -behind > self.max_ahead:
            raise StampError(f"stamp {-behind:.1f} s ahead of the clock (stamp_max_ahead {self.max_ahead:g} s)")
        return stamp
