"""Text recognition (CTC): greedy decoding of a [T, C] output; exact match and character error rate.

Greedy CTC: the best class per time step, repeats collapsed, the blank (class 0) dropped. Classes
1..N are the charset's characters (PaddleOCR's convention); a class past the charset's end is a
space. Without a charset the text is the class sequence itself, enough to compare with the parent.
CER is the corpus rate: the Levenshtein distance summed over samples / the target characters summed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from rapidfuzz.distance import Levenshtein

from core.errors import DatasetError
from core.tasks.base import TaskSettings, first_output, suffixed

BLANK = 0


def ctc_greedy(scores: np.ndarray) -> list[int]:
    """The class sequence of a [T, C] score array: argmax per step, repeats collapsed, blanks dropped."""
    best = np.argmax(scores, axis=-1).reshape(-1)
    kept = best[np.concatenate([[True], best[1:] != best[:-1]])] if best.size else best
    return [int(c) for c in kept if c != BLANK]


def to_text(classes: list[int], charset: tuple[str, ...]) -> str | tuple[int, ...]:
    """The characters of classes (1-based into charset, past its end a space); no charset: the classes."""
    if not charset:
        return tuple(classes)
    return "".join(charset[c - 1] if c - 1 < len(charset) else " " for c in classes)


class TextErrors:
    def __init__(self, vs_parent: bool) -> None:
        self.vs_parent, self.exact, self.edits, self.characters, self.count = vs_parent, 0, 0, 0, 0

    def add(self, prediction, target) -> None:
        self.exact += int(prediction == target)
        self.edits += Levenshtein.distance(prediction, target)
        self.characters += len(target)
        self.count += 1

    def result(self) -> dict[str, float]:
        if not self.count:
            return {}
        return suffixed({"exact_match": self.exact / self.count,
                         "cer": self.edits / self.characters if self.characters else float(self.edits > 0)},
                        self.vs_parent)


class TextRecognition:
    name = "text-recognition"
    title = "text recognition (CTC)"
    label_kinds = ("text",)
    raw_agreement = ()

    def decode(self, outputs: dict[str, np.ndarray], inputs: Any, settings: TaskSettings):
        scores = first_output(outputs)
        if scores.ndim != 2:
            raise DatasetError(f"A CTC text recognizer gives [T, C] scores per image; this output has shape "
                               f"{[1, *scores.shape]}. Pick another task for this model.")
        return to_text(ctc_greedy(scores), settings.charset)

    def scorer(self, settings: TaskSettings, *, classes: int, vs_parent: bool) -> TextErrors:
        return TextErrors(vs_parent)

    def label_target(self, label: Any, settings: TaskSettings) -> str:
        if not settings.charset:
            raise DatasetError("Scoring text against labels needs the model's charset (one character per line, "
                               "in class order); the model's metadata has none: give it with --charset or on "
                               "the Models page.")
        return str(label)

    def reference_target(self, prediction):
        return prediction
