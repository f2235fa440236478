"""What the benchmarks that drive real jobs share: a fresh lab in a temporary data dir, and text
datasets made from rows."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def fresh_lab(name: str) -> Path:
    """Points this process at a new data dir with the embedded SQLite database and queue `name`,
    migrated; returns the data dir."""
    data_dir = Path(tempfile.mkdtemp(prefix=f"optlab-{name}-"))
    os.environ.update(OPTLAB_DATA_DIR=str(data_dir), OPTLAB_QUEUE=name)
    for variable in ("OPTLAB_DATABASE_URL", "OPTLAB_QUEUE_PATH"):
        os.environ.pop(variable, None)
    from db.session import upgrade_schema

    upgrade_schema()
    return data_dir


def text_dataset(name: str, rows: list[str]):
    """A text dataset of rows, imported from a JSONL file written in the data dir."""
    from core.intake.sources import add_data_from_path

    path = Path(os.environ["OPTLAB_DATA_DIR"]) / f"{name}.jsonl"
    path.write_text("".join(json.dumps({"text": row}) + "\n" for row in rows))
    return add_data_from_path(path)


def demo_texts() -> list[str]:
    """The LLM demo's 300 held-out fortunes."""
    return [json.loads(line)["text"] for line in (ROOT / "assets" / "llm" / "fortunes_texts.jsonl").open()]
