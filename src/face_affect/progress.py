"""What the CLI shows a person while it works: a progress bar on a terminal, a one-line summary at the end.

The bar is ``tqdm``'s (count or percentage, rate and time left, redrawn in place at most ten
times a second): a small pure-Python package that every notebook and terminal knows, where a
hand-written bar would have to redo its rate smoothing, width handling and terminal checks. It
is drawn only when stderr is a terminal, so a pipe or a log file gets no control characters;
stdout carries JSON lines alone either way.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Hashable, Sequence
from typing import TextIO

from tqdm import tqdm

from face_affect.types import FaceResult


class Progress:
    """Counts frames, faces and people (distinct tracks) and shows them; :meth:`close` prints the summary."""

    def __init__(
        self, total: int | None, unit: str, quiet: bool = False, tracked: bool = True, stream: TextIO | None = None
    ) -> None:
        self.stream = stream or sys.stderr
        self.unit = unit
        self.quiet = quiet
        self.tracked = tracked
        self.frames = 0
        self.faces = 0
        self.people: set[Hashable] = set()
        self.started = time.monotonic()
        show = not quiet and self.stream.isatty()
        self.bar = tqdm(total=total or None, unit=f" {unit}s", file=self.stream, disable=not show, dynamic_ncols=True)

    def update(self, faces: Sequence[FaceResult], camera: Hashable = "") -> None:
        """One frame done with these faces; ``camera`` keeps tracks of different topics apart."""
        self.frames += 1
        self.faces += len(faces)
        self.people.update((camera, face.track_id) for face in faces if face.track_id is not None)
        self.bar.set_postfix_str(self.counts(with_frames=False), refresh=False)
        self.bar.update(1)

    def note(self, line: str) -> None:
        """A line on stderr (an error) that does not tear the bar."""
        tqdm.write(line, file=self.stream)

    def skip(self) -> None:
        """One frame that could not be analysed: it still counts towards the total."""
        self.bar.update(1)

    def counts(self, with_frames: bool = True) -> str:
        parts = [f"{self.frames} {self.unit}s"] if with_frames else []
        parts.append(f"{self.faces} faces")
        if self.tracked:
            parts.append(f"{len(self.people)} people")
        return ", ".join(parts)

    def close(self) -> None:
        """Clears the bar and prints ``summary: N frames, N faces, N people, T s (R frames/s)`` unless quiet."""
        self.bar.close()
        if self.quiet:
            return
        elapsed = time.monotonic() - self.started
        rate = self.frames / elapsed if elapsed > 0 else 0.0
        print(f"summary: {self.counts()}, {elapsed:.1f} s ({rate:.1f} {self.unit}s/s)", file=self.stream, flush=True)
