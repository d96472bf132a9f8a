"""Model files made wrong on purpose, shared by the library tests and the bad-model rostest."""

from __future__ import annotations

from pathlib import Path

import onnx


def rewrite_metadata(source: Path, target: Path, **changes: str | None) -> Path:
    """A copy of ``source`` with metadata entries replaced (or removed, for None)."""
    model = onnx.load(str(source))
    entries = {entry.key: entry.value for entry in model.metadata_props}
    for key, value in changes.items():
        if value is None:
            entries.pop(key, None)
        else:
            entries[key] = value
    del model.metadata_props[:]
    for key, value in entries.items():
        model.metadata_props.add(key=key, value=value)
    onnx.save(model, str(target))
    return target
