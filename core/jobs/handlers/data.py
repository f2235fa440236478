"""The import jobs: an uploaded dataset, or an uploaded model zip, read, checked and stored in a job process.

Reading a table or unpacking an image zip can take minutes and gigabytes; in the app server it
would stall every user's page. The app saves the upload below uploads/ (core.lab.submit_import)
and this job turns it into a dataset with core.intake.sources.add_data, as the CLI does in its own
process. The upload is removed when the job ends; one a kill -9 left is removed by the worker
(core.intake.cleanup).
"""

from __future__ import annotations

from core.config import get_settings
from core.errors import DatasetError, ModelFormatError
from core.intake.cleanup import UPLOADS
from core.intake.model_intake import add_model
from core.intake.sources import add_data
from core.options import ImagePreprocessing
from core.storage import remove_tree, resolve
from db import repository as repo
from db.records import JobRecord


def run_import_data(job: JobRecord, reporter) -> None:
    options = job.options
    file_name = options["file_name"]
    reporter.stage(f"importing {file_name}", 0.0, 1.0)
    upload = resolve(options["upload"])
    if not upload.is_file():
        raise DatasetError(f"The upload of '{file_name}' is gone (an import removes it when it ends); "
                           "upload the file again.")
    try:
        beside = resolve(options["annotations"]) if options.get("annotations") else None
        with upload.open("rb") as handle:
            dataset = add_data((file_name, handle), name=options.get("name"), label_column=options.get("label_column"),
                               columns=options.get("columns"),
                               preprocessing=ImagePreprocessing.from_dict(options.get("preprocessing") or {}),
                               annotations=(beside.name, beside.read_bytes()) if beside else None,
                               labels=tuple(options["labels"]) if options.get("labels") else None,
                               text_column=options.get("text_column"))
    finally:
        remove_tree(upload.parent, within=get_settings().data_dir / UPLOADS)
    repo.set_job_dataset(job.id, dataset.id)
    reporter.fraction(1.0, f"dataset #{dataset.id}: {dataset.samples} samples", force=True)


def run_import_model(job: JobRecord, reporter) -> int:
    """Imports the uploaded model files (a zip: an IR, a SavedModel, a Hugging Face checkpoint that
    optimum-intel converts, an exported genai folder) with core.intake.model_intake.add_model."""
    uploads = [resolve(path) for path in job.options["uploads"]]
    reporter.stage(f"importing {', '.join(p.name for p in uploads)}", 0.0, 1.0)
    if not all(path.is_file() for path in uploads):
        raise ModelFormatError("The upload is gone (an import removes it when it ends); upload the files again.")
    handles = [path.open("rb") for path in uploads]
    try:
        model = add_model([(path.name, handle) for path, handle in zip(uploads, handles)], name=job.options.get("name"))
    finally:
        for handle in handles:
            handle.close()
        remove_tree(uploads[0].parent, within=get_settings().data_dir / UPLOADS)
    reporter.fraction(1.0, f"model #{model.id} '{model.name}'", force=True)
    return model.id
