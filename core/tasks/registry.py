"""The tasks the lab knows, and the one it proposes for a model from its inputs, outputs and metadata."""

from __future__ import annotations

from typing import Any

from core.errors import BadInputError
from core.intake.models import parse_charset
from core.tasks.base import Task, TaskSettings
from core.tasks.classification import Classification
from core.tasks.detection import Detection
from core.tasks.embedding import Embedding
from core.tasks.regression import Regression
from core.tasks.segmentation import Segmentation
from core.tasks.text_recognition import TextRecognition
from db import repository as repo
from db.records import ModelRecord

TASKS: dict[str, Task] = {task.name: task for task in (
    Classification(), Detection(), Segmentation(), TextRecognition(), Embedding(), Regression())}
TOKEN_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def get_task(name: str | None) -> Task:
    """The task called name (None: classification, what every model was judged as before tasks)."""
    name = name or "classification"
    if name not in TASKS:
        raise BadInputError(f"'{name}' is not a task the lab knows; choose one of: {', '.join(TASKS)}.")
    return TASKS[name]


def labels_for(task: str | None) -> tuple[str, ...] | None:
    """The dataset label kinds a task scores against, for refusing data that cannot serve it; None
    for no task, or one that takes any data (embeddings)."""
    return (get_task(task).label_kinds or None) if task else None


def propose_task(inputs: list[dict[str, Any]], outputs: list[dict[str, Any]], *, charset: bool = False) -> str:
    """The task a model most likely has, from its ports ({'name', 'shape'} dicts) and metadata.

    The user can change it; the rules, first match wins: token inputs -> embedding (classification
    when the output is named logits: a language model's token scores); SSD
    DetectionOutput or boxes/scores/labels outputs -> detection; a charset in the metadata, or a
    [T, C] output of an image input at least 3x wider than high (or a low one of dynamic width) -> text recognition; a 3-D output of
    a square-ish image -> detection (YOLO head); [C, H, W] -> segmentation; one value -> regression;
    else classification.
    """
    names = [o["name"].lower() for o in outputs]
    shape = list(outputs[0]["shape"]) if outputs else []
    image = next((list(i["shape"]) for i in inputs if len(i["shape"]) == 4), None)
    if any(i["name"].lower() in TOKEN_INPUTS for i in inputs):
        return "classification" if "logits" in names[0] else "embedding"  # a language model's next-token scores
    if len(shape) == 4 and shape[-1] == 7 or len(outputs) > 1 and any("box" in n for n in names):
        return "detection"
    if charset:
        return "text-recognition"
    if len(shape) == 3 and image:
        height, width = (image[2], image[3]) if image[1] in (1, 3) else (image[1], image[2])
        wide = width >= 3 * height > 0 or width <= 0 < height <= 64  # dynamic width: a text line
        return "text-recognition" if wide else "detection"
    if len(shape) == 4 and image:
        return "segmentation"
    if len(shape) == 2 and shape[-1] == 1:
        return "regression"
    return "classification"


def model_task(model: ModelRecord) -> tuple[Task, TaskSettings]:
    """The task a model is judged by: its own, else its nearest ancestor's (an optimized child does
    what its parent does), else the one proposed from the original's ports and metadata."""
    seen = set()
    while model.task is None and model.parent_id is not None and model.parent_id not in seen:
        seen.add(model.id)
        model = repo.get_model(model.parent_id)
    settings = TaskSettings.from_dict(model.task_settings)
    name = model.task or propose_task(model.inputs, model.outputs, charset=bool(settings.charset))
    return get_task(name), settings


def set_task(model_id: int, task: str, *, charset: str | None = None, **settings: Any) -> ModelRecord:
    """Sets a model's task and output settings (charset as the text of a charset file), checked first."""
    get_task(task)
    model = repo.get_model(model_id)
    merged = {**model.task_settings, **settings}
    if charset is not None:
        merged["charset"] = parse_charset(charset)
    return repo.set_model_task(model_id, task, TaskSettings.from_dict(merged).to_dict())
