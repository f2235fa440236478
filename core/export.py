"""Downloads: the IR of a model as a zip (model.xml + model.bin + a README of its recipe)."""

from __future__ import annotations

import io
import json
import zipfile

from core import lab
from db.records import ModelRecord


def ir_zip(model: ModelRecord) -> bytes:
    """The model's IR as zip bytes that OpenVINO loads after unzipping."""
    xml = lab.resolve(model.path)
    readme = (f"# {model.name}\n\nOpenVINO IR exported by Optimization Lab (model #{model.id}).\n\n"
              "Load it with:\n\n    import openvino as ov\n    ov.Core().read_model('model.xml')\n\n"
              f"## Recipe\n\n```json\n{json.dumps(model.recipe, indent=2, default=str)}\n```\n")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(xml, "model.xml")
        archive.write(xml.with_suffix(".bin"), "model.bin")
        archive.writestr("README.md", readme)
    return buffer.getvalue()


def ir_zip_name(model: ModelRecord) -> str:
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in model.name).strip("_") or "model"
    return f"{safe}-ir.zip"
