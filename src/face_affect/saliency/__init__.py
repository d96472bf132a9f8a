"""What the models look at: guided back-propagation from the classifiers' own ONNX graphs, without torch.

:mod:`.graph` appends the backward pass to a model's graph, :mod:`.maps` runs it for face
crops, :mod:`.rendering` turns maps into images.
"""

from face_affect.saliency.maps import GuidedBackpropagation, SaliencyMaps, explain_faces
from face_affect.saliency.rendering import face_panel, guided_image, heatmap_image, overlay

__all__ = [
    "GuidedBackpropagation",
    "SaliencyMaps",
    "explain_faces",
    "face_panel",
    "guided_image",
    "heatmap_image",
    "overlay",
]
