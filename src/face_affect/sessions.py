"""One way to open an ONNX file with onnxruntime: CPU, a fixed thread count, and a bad file as ModelError."""

from __future__ import annotations

from pathlib import Path

import onnxruntime

from face_affect.errors import ModelError


def open_session(
    model: str | Path | bytes,
    threads: int = 1,
    label: str | Path | None = None,
    dimensions: dict[str, int] | None = None,
) -> onnxruntime.InferenceSession:
    """An inference session on the CPU with ``threads`` intra-op threads.

    ``model`` is a file or serialised bytes (``label`` then names it in errors).
    ``dimensions`` fixes named free input dimensions, which lets onnxruntime fuse more.
    A file that is missing or that onnxruntime cannot load raises :class:`ModelError`.
    """
    name = label if label is not None else model
    if isinstance(model, (str, Path)) and not Path(model).is_file():
        raise ModelError(f"{name}: model file not found")
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    for dimension, size in (dimensions or {}).items():
        options.add_free_dimension_override_by_name(dimension, size)
    source = model if isinstance(model, bytes) else str(model)
    try:
        return onnxruntime.InferenceSession(source, options, providers=["CPUExecutionProvider"])
    except Exception as error:  # onnxruntime raises several unrelated types for bad files
        raise ModelError(f"{name}: not a loadable ONNX model ({error})") from error
