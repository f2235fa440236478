"""Bake an image dataset's preprocessing into a model with openvino.preprocess.PrePostProcessor.

The baked model takes what an image decoder gives (uint8, N×H×W×C, RGB or grayscale, any size)
and does resize, colour order, mean/scale and layout inside the graph, so deployments need no
preprocessing code. It is stored as a child of the original.
"""

from __future__ import annotations

from core.errors import DatasetError
from core.intake.datasets import resolve_preprocessing
from core.intake.model_intake import store_derived_model
from core.intake.models import read_model
from core.intake.samples import model_inputs
from core.options import ColorMode, ImagePreprocessing
from core.storage import resolve
from db import repository as repo
from db.records import ModelRecord


def bake_preprocessing(model_id: int, dataset_id: int) -> ModelRecord:
    """Stores a copy of the model with the dataset's image preprocessing in the graph.

    Args:
        model_id: A single-input image model.
        dataset_id: An image-folder dataset whose preprocessing spec is baked in.

    Raises:
        DatasetError: The dataset is not an image folder, or its spec does not fit the model.
    """
    import openvino as ov
    from openvino.preprocess import ColorFormat, PrePostProcessor, ResizeAlgorithm

    parent, dataset = repo.get_model(model_id), repo.get_dataset(dataset_id)
    if dataset.format != "image-folder":
        raise DatasetError(f"'{dataset.name}' is {dataset.format} data; only an image dataset's "
                           "preprocessing (resize, colour, mean/scale, layout) can be baked into a model.")
    inputs = model_inputs(parent)
    if len(inputs) != 1:
        raise DatasetError(f"'{parent.name}' has {len(inputs)} inputs; preprocessing is baked into "
                           "single-input image models.")
    spec = resolve_preprocessing(ImagePreprocessing.from_dict(dataset.preprocessing), inputs[0])
    model = read_model(resolve(parent.path))
    ppp = PrePostProcessor(model)
    port = ppp.input(0)
    gray = spec.color == ColorMode.GRAY
    port.tensor().set_element_type(ov.Type.u8).set_layout(ov.Layout("NHWC")) \
        .set_color_format(ColorFormat.GRAY if gray else ColorFormat.RGB).set_spatial_dynamic_shape()
    steps = port.preprocess().convert_element_type(ov.Type.f32).resize(ResizeAlgorithm.RESIZE_LINEAR)
    if spec.color == ColorMode.BGR:
        steps.convert_color(ColorFormat.BGR)
    steps.mean(spec.mean[0] if len(spec.mean) == 1 else list(spec.mean))
    steps.scale(spec.scale[0] if len(spec.scale) == 1 else list(spec.scale))
    port.model().set_layout(ov.Layout(str(spec.layout)))
    return store_derived_model(parent, ppp.build(), name=f"{parent.name} (preprocessing baked)",
                               recipe={"algorithm": "bake-preprocessing", "dataset_id": dataset.id,
                                       "options": spec.to_dict()})
