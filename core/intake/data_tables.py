"""Tables as datasets (via Hugging Face `datasets`): CSV, Parquet, JSONL, or a zipped save_to_disk folder.

Each row is one sample. Columns map to model inputs: by default a column named after an input
feeds it (a list column gives a whole tensor per row), and with one input every other numeric
column is gathered into one feature vector. An optional label column holds the labels: integer classes, texts or numbers (core.intake.data_arrays).
The table is converted once into arrays.npz beside the upload and then read like a .npz
(core.intake.data_arrays), so every check there applies.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np

from core.errors import BadInputError, DatasetError
from core.intake.data_arrays import store_arrays
from core.intake.files import save_all
from core.storage import new_folder, relative
from db import repository as repo
from db.records import DatasetRecord

FORMAT = "table"
TEXT_FORMAT = "text"  # one text per row (prompts, or texts to score a language model on)
TEXT_COLUMNS = ("text", "prompt", "content", "question", "instruction")
# Suffix -> the `datasets` builder that reads it.
TABLE_SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".jsonl": "json", ".json": "json"}
DEFAULT_INPUT = "input"
MAX_COLUMNS = 4096


def _column_count(path: Path) -> int:
    """How many columns a table file declares, read from its header alone (0 when not known)."""
    kind = TABLE_SUFFIXES.get(path.suffix.lower())
    if kind == "csv":
        with path.open(newline="", errors="replace") as f:
            return len(next(csv.reader([f.readline()]), []))
    if kind == "json":
        with path.open(errors="replace") as f:
            first = f.readline()
        try:
            row = json.loads(first)
        except ValueError:
            return 0  # the reader reports the malformed file
        return len(row) if isinstance(row, dict) else 0
    if kind == "parquet":
        import pyarrow.parquet

        try:
            return len(pyarrow.parquet.read_schema(path).names)
        except Exception:  # pyarrow raises several types; the reader reports the damaged file
            return 0
    return 0


def _read_table(path: Path, cache: Path):
    """A `datasets.Dataset` from a table file or a save_to_disk folder, kept in memory.

    The header is read first: a table wider than MAX_COLUMNS is refused before it is parsed (a
    10 MB CSV of a million columns took minutes and gigabytes to read).
    """
    import datasets

    if path.is_file() and _column_count(path) > MAX_COLUMNS:
        raise DatasetError(f"'{path.name}' has {_column_count(path)} columns; the lab reads tables of at most "
                           f"{MAX_COLUMNS}. Store wide inputs as one list column per input (JSON lines) or "
                           "as a .npy / .npz array.")

    datasets.disable_progress_bars()
    try:
        if path.is_dir():
            found = sorted(p.parent for p in path.rglob("dataset_info.json"))
            if not found:
                raise DatasetError("The zip holds no table and no Hugging Face dataset folder "
                                   "(dataset_info.json); zip the folder written by save_to_disk.")
            table = datasets.load_from_disk(str(found[0]), keep_in_memory=True)
            if isinstance(table, datasets.DatasetDict):
                table = table[sorted(table)[0]]
            return table
        reader = {"csv": datasets.Dataset.from_csv, "parquet": datasets.Dataset.from_parquet,
                  "json": datasets.Dataset.from_json}[TABLE_SUFFIXES[path.suffix.lower()]]
        return reader(str(path), keep_in_memory=True, cache_dir=str(cache))
    except DatasetError:
        raise
    except Exception as error:  # pyarrow and `datasets` raise many types for malformed tables
        raise DatasetError(f"'{path.name}' could not be read as a table ({type(error).__name__}: "
                           f"{str(error)[:200]}); check it is valid CSV / Parquet / JSON lines with a "
                           "header row.") from error
    finally:
        shutil.rmtree(cache, ignore_errors=True)


def _column(data: dict, name: str) -> np.ndarray:
    array = np.asarray(data[name])
    if array.dtype == object:
        raise DatasetError(f"Column '{name}' is not numeric data of one shape (rows of different "
                           "lengths, or mixed types); every row must hold the same shape of numbers.")
    return array


def _columns_to_arrays(table, columns: dict[str, list[str]] | None,
                       label_column: str | None) -> dict[str, np.ndarray]:
    """Input name -> array (rows first), plus 'labels' when label_column is set."""
    names = list(table.column_names)
    wanted = [c for cols in (columns or {}).values() for c in cols] + ([label_column] if label_column else [])
    missing = [c for c in wanted if c not in names]
    if missing:
        raise DatasetError(f"Column '{missing[0]}' is not in the table (columns: {', '.join(names)}); "
                           "pick columns that exist.")
    if not columns:
        columns = {DEFAULT_INPUT: [c for c in names if c != label_column]}
    text = next((c for cols in columns.values() for c in cols if _is_text(table, c)), None)
    if text:
        raise DatasetError(f"Column '{text}' holds text, not numeric data. Texts for a language model: import them as "
                           f"a text dataset (`add-data FILE --text-column {text}`, or 'texts' on the Data page); "
                           "labels of a text recognizer: name the column as the label column.")
    data = table.with_format("numpy")[:]
    arrays = {}
    for input_name, cols in columns.items():
        parts = [_column(data, c) for c in cols]
        arrays[input_name] = parts[0] if len(parts) == 1 and parts[0].ndim > 1 else np.column_stack(parts)
    if label_column:
        labels = np.asarray(data[label_column])
        if labels.dtype == object and all(isinstance(v, str) for v in labels):
            labels = labels.astype(str)  # a text column: the labels of a text recognizer
        arrays["labels"] = _column({label_column: labels}, label_column)
    return arrays


def add_table_dataset(upload: tuple, *, name: str | None = None, label_column: str | None = None,
                      columns: dict[str, list[str]] | None = None,
                      labels: tuple[str, ...] | None = None) -> DatasetRecord:
    """Imports a CSV / Parquet / JSONL file or a zipped save_to_disk folder as a dataset.

    Args:
        upload: (file name, bytes or stream).
        name: The dataset's name (default: the file's stem).
        label_column: The column with the labels (classes, texts or values), if any.
        columns: Model input name -> the columns that feed it, in order. Default: every column but
            the label one, into a single input.
        labels: The label kinds wanted (a task's); other data is refused before it is stored.
    """
    file_name, _ = upload
    suffix = Path(file_name).suffix.lower()
    if suffix not in (*TABLE_SUFFIXES, ".zip"):
        raise BadInputError(f"'{file_name}' is not a table; upload .csv, .parquet, .jsonl or a zip of a "
                            "Hugging Face save_to_disk folder.")
    stem = name or Path(file_name).stem
    with new_folder("datasets", stem) as folder:
        (path,) = save_all([upload], folder / "upload")
        table = _read_table(path, folder / "cache")
        if not (columns or label_column) and table.column_names and all(_is_text(table, c) for c in table.column_names):
            return _store_texts(folder, path, stem, table, _text_column(table, None))  # nothing but text: texts
        arrays = _columns_to_arrays(table, columns, label_column)
        target = folder / "arrays.npz"
        np.savez(target, allow_pickle=False, **arrays)
        return store_arrays(target, name=stem, source=file_name, fmt=FORMAT, labels=labels,
                            extra={"columns": columns or {}, "label_column": label_column,
                                   "source_file": path.name})


def parse_columns(text: str) -> dict[str, list[str]] | None:
    """'image=pixels; features=a,b,c' -> {'image': ['pixels'], 'features': ['a', 'b', 'c']}; '' -> None."""
    mapping = {}
    for part in filter(None, (p.strip() for p in text.split(";"))):
        input_name, sep, cols = part.partition("=")
        if not sep or not input_name.strip() or not cols.strip():
            raise BadInputError(f"'{part}' is not 'input=column1,column2'; write one mapping per model "
                                "input, separated by ';'.")
        mapping[input_name.strip()] = [c.strip() for c in cols.split(",") if c.strip()]
    return mapping or None


def _is_text(table, column: str) -> bool:
    return getattr(table.features[column], "dtype", "") in ("string", "large_string")


def _text_column(table, text_column: str | None) -> str:
    """The column holding the texts: the one given, else a column named text / prompt / ..., else the
    only column of strings."""
    names = list(table.column_names)
    if text_column:
        if text_column not in names:
            raise DatasetError(f"Column '{text_column}' is not in the table (columns: {', '.join(names)}); "
                               "pick the column that holds the texts.")
        return text_column
    strings = [n for n in names if _is_text(table, n)]
    named = [n for n in TEXT_COLUMNS if n in strings]
    if named or len(strings) == 1:
        return (named or strings)[0]
    raise DatasetError(f"Which column holds the texts? The table has {', '.join(names) or 'no columns'}; name it "
                       "(--text-column, or the text column box on the Data page).")


def add_text_dataset(upload: tuple, *, name: str | None = None, text_column: str | None = None) -> DatasetRecord:
    """Imports texts for language models: a .txt (one text per line), a table's text column, or a
    zipped save_to_disk folder's. Empty texts are skipped (and counted)."""
    file_name, _ = upload
    suffix = Path(file_name).suffix.lower()
    if suffix not in (*TABLE_SUFFIXES, ".zip", ".txt"):
        raise BadInputError(f"'{file_name}' is not text data; upload a .txt (one text per line), a .csv / .parquet / "
                            ".jsonl with a text column, or a zip of a Hugging Face save_to_disk folder.")
    stem = name or Path(file_name).stem
    with new_folder("datasets", stem) as folder:
        (path,) = save_all([upload], folder / "upload")
        if suffix == ".txt":
            return _store_texts(folder, path, stem, None, None)
        table = _read_table(path, folder / "cache")
        return _store_texts(folder, path, stem, table, _text_column(table, text_column))


def _store_texts(folder: Path, path: Path, name: str, table, column: str | None) -> DatasetRecord:
    """Stores the non-empty texts of a table's column (or of a .txt's lines) as a text dataset."""
    if table is None:
        rows = path.read_text(encoding="utf-8", errors="replace").splitlines()
    else:
        rows = [str(v) if v is not None else "" for v in table[column]]
    texts = [row.strip() for row in rows if row and row.strip()]
    if not texts:
        raise DatasetError(f"'{path.name}' holds no text; give one text per line or row.")
    target = folder / "texts.npz"
    np.savez(target, allow_pickle=False, text=np.asarray(texts, dtype=str))
    return repo.add_dataset(name=name, format=TEXT_FORMAT, path=relative(target), samples=len(texts), has_labels=False,
                            classes=[], skipped=len(rows) - len(texts),
                            preprocessing={"text_column": column, "source_file": path.name})


def read_texts(path: Path) -> list[str]:
    """The texts of a text dataset's stored file (add_text_dataset)."""
    with np.load(path, allow_pickle=False) as data:
        return [str(v) for v in data["text"]]
