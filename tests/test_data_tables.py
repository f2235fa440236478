"""Tables (CSV, Parquet, JSONL, a zipped save_to_disk folder) as datasets for real models."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core import lab, storage
from core.errors import BadInputError, DatasetError
from core.intake import sources
from core.measure.evaluate import compile_model, top1_accuracy
from core.options import Precision
from db import repository as repo
from tests.models_in_code import make_outlier_classifier
from tests.test_data_arrays import make_two_input_model


def _feature_table(model_path: Path, rows: int = 30) -> pd.DataFrame:
    """Four feature columns and a label column the FP32 model itself predicts (so accuracy is 1)."""
    x = np.random.default_rng(3).uniform(0, 1, (rows, 4)).astype(np.float32)
    labels = compile_model(model_path, precision=Precision.F32)(x)[0].argmax(1)
    return pd.DataFrame({**{f"f{i}": x[:, i] for i in range(4)}, "label": labels})


def _accuracy(dataset, model) -> float:
    return top1_accuracy(storage.resolve(model.path), sources.open_dataset(dataset, model).samples(),
                         precision=Precision.F32).value


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".jsonl"])
def test_feature_table_with_label_column_feeds_a_single_input_model(lab_env, suffix):
    path = make_outlier_classifier(lab_env.parent / "src" / "model.xml", features=4)
    frame = _feature_table(path)
    buffer = io.BytesIO()
    {".csv": lambda: frame.to_csv(buffer, index=False), ".parquet": lambda: frame.to_parquet(buffer),
     ".jsonl": lambda: frame.to_json(buffer, orient="records", lines=True)}[suffix]()
    model = lab.add_model_from_path(path)
    dataset = sources.add_data((f"table{suffix}", buffer.getvalue()), label_column="label")
    assert (dataset.format, dataset.samples, dataset.has_labels) == ("table", 30, True)
    assert _accuracy(dataset, model) == 1.0


def test_jsonl_list_columns_map_to_the_inputs_of_a_two_input_model(lab_env):
    model = lab.add_model_from_path(make_two_input_model(lab_env.parent / "two" / "model.xml"))
    rows = [{"pixels": np.full((1, 8, 8), i, np.float32).tolist(), "extra": [i, 0, 1, 2], "y": i % 3}
            for i in range(6)]
    text = "\n".join(json.dumps(r) for r in rows).encode()
    dataset = sources.add_data(("rows.jsonl", text), label_column="y",
                               columns={"image": ["pixels"], "features": ["extra"]})
    shapes = {(r["input"], r["shape"]) for r in sources.preview(dataset, model)}
    assert shapes == {("image", "[1, 1, 8, 8]"), ("features", "[1, 4]")}


def test_zipped_save_to_disk_folder_is_a_table(lab_env, tmp_path):
    import datasets

    path = make_outlier_classifier(lab_env.parent / "src" / "model.xml", features=4)
    datasets.Dataset.from_pandas(_feature_table(path)).save_to_disk(str(tmp_path / "hf" / "digits"))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for file in (tmp_path / "hf").rglob("*"):
            archive.write(file, file.relative_to(tmp_path / "hf").as_posix())
    dataset = sources.add_data(("digits.zip", buffer.getvalue()), label_column="label")
    assert dataset.format == "table" and dataset.samples == 30
    assert _accuracy(dataset, lab.add_model_from_path(path)) == 1.0


@pytest.mark.parametrize("name,text,kwargs,error_type,phrase", [
    ("t.csv", b"a,b\n1,2\n", {"label_column": "label"}, DatasetError, "Column 'label' is not in the table"),
    ("t.csv", b"a,b\n1,x\n", {}, DatasetError, "not numeric"),
    ("t.csv", b"a,b\n1,nan\n", {}, DatasetError, "NaN"),
    ("t.jsonl", b'{"a": [1, 2]}\n{"a": [1]}\n', {}, DatasetError, "not numeric"),
    ("t.jsonl", b"{not json", {}, DatasetError, "could not be read as a table"),
    ("t.parquet", b"PAR1 broken", {}, DatasetError, "could not be read as a table"),
    ("t.jsonl", b'{"a": 1, "label": [1, 2]}\n', {"label_column": "label"}, DatasetError, "not labels the lab reads"),
])
def test_bad_tables_fail_clearly_and_keep_what_was_stored(lab_env, name, text, kwargs, error_type, phrase):
    kept = sources.add_data(("ok.csv", b"a,b\n1,2\n"))
    before = set((lab_env / "datasets").rglob("*"))
    with pytest.raises(error_type) as caught:
        sources.add_data((name, text), **kwargs)
    assert phrase in str(caught.value)
    assert set((lab_env / "datasets").rglob("*")) == before
    assert [d.id for d in repo.list_datasets()] == [kept.id]


def test_unsupported_table_extension_is_refused(lab_env):
    from core.intake.data_tables import add_table_dataset

    with pytest.raises(BadInputError):
        add_table_dataset(("t.xlsx", b"x"))


def test_the_page_s_import_runs_in_a_job_process_and_leaves_no_upload(lab_env):
    # The app server only saves the upload: the table is read in a job process (issue 11,
    # finding 3), which stores the dataset and removes the upload whether it worked or not.
    from core.jobs.queue import supervise_job
    from core.options import JobKind, JobStatus

    frame = pd.DataFrame({"a": np.arange(12.0), "b": np.ones(12), "y": np.arange(12) % 2})
    job = lab.submit_import(("rows.csv", frame.to_csv(index=False).encode()), name="rows", label_column="y")
    assert job.kind == JobKind.IMPORT_DATA and repo.list_datasets() == []
    supervise_job(job.id)  # what the worker does with the queued id: a real job process
    done = repo.get_job(job.id)
    assert done.status == JobStatus.SUCCEEDED, done.message
    dataset = repo.get_dataset(done.dataset_id)
    assert (dataset.name, dataset.samples, dataset.has_labels) == ("rows", 12, True)
    assert list((lab_env / "uploads").iterdir()) == []

    bad = lab.submit_import(("broken.parquet", b"not parquet at all"))
    supervise_job(bad.id)
    failed = repo.get_job(bad.id)
    assert failed.status == JobStatus.FAILED and "could not be read as a table" in failed.message
    assert [d.id for d in repo.list_datasets()] == [dataset.id]
    assert list((lab_env / "uploads").iterdir()) == [] and len(list((lab_env / "datasets").iterdir())) == 1


def test_a_file_no_dataset_kind_reads_is_refused_before_it_is_queued(lab_env):
    with pytest.raises(BadInputError, match="is not data the lab reads"):
        lab.submit_import(("notes.docx", b"x"))
    assert repo.list_jobs(10) == [] and not any((lab_env / "uploads").glob("*"))


def test_folders_of_a_killed_import_are_removed_by_the_recovery_round(lab_env):
    # A kill -9 mid-import leaves the upload and a half-written dataset folder, both claimed by the
    # job; once the job is no longer live, the worker's recovery round removes both, nothing else.
    from core.intake.cleanup import remove_abandoned_folders
    from core.options import JobStatus
    from core.storage import claimed_by, new_folder

    kept = sources.add_data(("kept.npy", _npy_bytes()))
    job = lab.submit_import(("rows.csv", b"a,b\n1,2\n"))
    with claimed_by(job.id), new_folder("datasets", "half") as half:
        (half / "upload").mkdir()
    assert remove_abandoned_folders() == [], "a pending job's folders stay"
    assert repo.claim_job(job.id, pid=999_999)
    repo.finish_job(job.id, JobStatus.FAILED, message="killed")
    removed = remove_abandoned_folders()
    assert sorted(p.split("/")[0] for p in removed) == ["datasets", "uploads"] and not half.exists()
    assert [d.id for d in repo.list_datasets()] == [kept.id] and storage.resolve(kept.path).exists()


def _npy_bytes() -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.ones((4, 3), np.float32))
    return buffer.getvalue()
