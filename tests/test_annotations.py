"""Image zips with detection boxes (COCO JSON, YOLO txt, Pascal VOC XML) or segmentation masks:
what the intake reads from each layout, and a model scored on them end to end."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest
from PIL import Image

from core.errors import DatasetError
from core.intake import sources

# Two 200 x 100 images; a.png has a box at pixels (20, 10)-(100, 50) of class 1, b.png none.
BOX = [1, 0.1, 0.1, 0.5, 0.5]


def _png(width=200, height=100, color=(0, 0, 0), mode="RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, (width, height), color).save(buffer, format="PNG")
    return buffer.getvalue()


def _zip(files: dict[str, bytes | str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


COCO = json.dumps({
    "images": [{"id": 7, "file_name": "a.png", "width": 200, "height": 100}, {"id": 8, "file_name": "b.png"}],
    "categories": [{"id": 3, "name": "cat"}, {"id": 18, "name": "dog"}],
    "annotations": [{"id": 1, "image_id": 7, "category_id": 18, "bbox": [20, 10, 80, 40]}]})
VOC = ("<annotation><size><width>200</width><height>100</height></size><object><name>dog</name>"
       "<bndbox><xmin>20</xmin><ymin>10</ymin><xmax>100</xmax><ymax>50</ymax></bndbox></object></annotation>")


@pytest.mark.parametrize("layout,files", [
    ("coco", {"images/a.png": _png(), "images/b.png": _png(), "annotations/instances.json": COCO}),
    ("yolo", {"images/a.png": _png(), "images/b.png": _png(), "labels/a.txt": "1 0.3 0.3 0.4 0.4\n",
              "classes.txt": "cat\ndog\n"}),
    ("voc", {"JPEGImages/a.png": _png(), "JPEGImages/b.png": _png(), "Annotations/a.xml": VOC,
             "classes.txt": "cat\ndog\n"}),
])
def test_each_box_format_gives_the_same_fractions(lab_env, layout, files):
    dataset = sources.add_data((f"{layout}.zip", _zip(files)))
    assert dataset.has_labels and dataset.classes == ["cat", "dog"] and dataset.samples == 2
    assert sources.label_kind(dataset) == "boxes"
    from db import repository as repo

    model = repo.add_model(name="det", format="openvino-ir", path="models/x/model.xml", size_bytes=1,
                           inputs=[{"name": "x", "shape": [1, 3, 100, 200], "element_type": "f32", "layout": ""}],
                           outputs=[{"name": "y", "shape": [1, 1, 10, 7], "element_type": "f32", "layout": ""}])
    labels = [label for _, label in sources.open_dataset(dataset, model).samples()]
    assert [np.round(label, 6).tolist() for label in labels] == [[BOX], []]
    assert [row["label"] for row in sources.preview(dataset, model)] == ["1 boxes", "0 boxes"]


def test_voc_names_missing_from_classes_txt_are_refused(lab_env):
    files = {"a.png": _png(), "a.xml": VOC, "classes.txt": "cat\n"}
    with pytest.raises(DatasetError, match="'dog' is in the annotations but not in classes.txt"):
        sources.add_data(("voc.zip", _zip(files)))


def test_a_malformed_yolo_line_names_the_file_and_line(lab_env):
    with pytest.raises(DatasetError, match="Line 2 of 'a.txt'"):
        sources.add_data(("y.zip", _zip({"images/a.png": _png(), "labels/a.txt": "0 0.5 0.5 0.1 0.1\nzero\n"})))


def test_a_hostile_xml_is_refused_without_expanding_it(lab_env):
    bomb = ('<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "xxxxxxxxxx"><!ENTITY y "&x;&x;&x;&x;&x;">]>'
            "<annotation><object><name>&y;</name></object></annotation>")
    with pytest.raises(DatasetError, match="not a Pascal VOC annotation"):
        sources.add_data(("voc.zip", _zip({"a.png": _png(), "a.xml": bomb})))


def _ssd(path, rows):
    """An image [1, 3, 100, 200] -> a fixed DetectionOutput [1, 1, N, 7] (0 x the image added)."""
    import openvino as ov
    import openvino.opset13 as ops

    x = ops.parameter([1, 3, 100, 200], np.float32, name="image")
    zero = ops.multiply(ops.reduce_sum(x, ops.constant(np.array([1, 2, 3])), True), ops.constant(np.float32(0)))
    out = ops.add(ops.constant(np.array(rows, np.float32).reshape(1, 1, -1, 7)), zero)
    out.output(0).get_tensor().set_names({"detection_out"})
    path.parent.mkdir(parents=True, exist_ok=True)
    ov.save_model(ov.Model([out], [x], "ssd"), str(path))
    return path


def test_a_detector_is_scored_by_coco_map_against_the_zips_boxes(lab_env, tmp_path):
    from core.intake.model_intake import add_model_from_path
    from core.measure.evaluate import task_metrics
    from core import storage
    from core.tasks.registry import model_task

    dataset = sources.add_data(("coco.zip", _zip({"images/a.png": _png(), "images/b.png": _png(),
                                                   "annotations/instances.json": COCO})))
    # the true box of a.png, and a false one of class 0 (on both images, as the output is fixed)
    model = add_model_from_path(_ssd(tmp_path / "ssd.xml", [[0, 1, 0.9, *BOX[1:]], [0, 0, 0.8, 0.6, 0.6, 0.9, 0.9]]))
    task, settings = model_task(model)
    assert task.name == "detection"
    metrics = {m.metric: m.value for m in task_metrics(storage.resolve(model.path), sources.open_dataset(
        dataset, model).samples(), task=task, settings=settings)}
    # class 1: found at precision 1 (AP 1); class 0 has no true box, so COCO leaves it out of the mean
    assert metrics == {"map50": pytest.approx(1.0), "map50_95": pytest.approx(1.0)}


def test_a_segmenter_is_scored_by_miou_against_png_masks(lab_env, tmp_path):
    import openvino as ov
    import openvino.opset13 as ops
    from core.intake.model_intake import add_model_from_path
    from core.measure.evaluate import task_metrics
    from core import storage
    from core.tasks.registry import model_task

    # The "model" scores each pixel's class by its colour channel: red 0, green 1, blue 2.
    x = ops.parameter([1, 3, 8, 8], np.float32, name="image")
    scores = ops.multiply(x, ops.constant(np.float32(1)))
    ov.save_model(ov.Model([scores], [x], "colours"), str(tmp_path / "seg.xml"))
    model = add_model_from_path(tmp_path / "seg.xml")
    pixels = np.zeros((16, 16, 3), np.uint8)
    pixels[:, :8, 0], pixels[:, 8:, 2] = 255, 255  # left red, right blue
    mask = np.zeros((16, 16), np.uint8)
    mask[:, 8:] = 2
    wrong = mask.copy()
    wrong[:8, 8:] = 1  # half the blue side labelled green

    def scored(label: np.ndarray) -> dict:
        image, png = io.BytesIO(), io.BytesIO()
        Image.fromarray(pixels).save(image, format="PNG")
        Image.fromarray(label, mode="L").save(png, format="PNG")
        dataset = sources.add_data(("seg.zip", _zip({"images/a.png": image.getvalue(), "masks/a.png": png.getvalue()})))
        assert sources.label_kind(dataset) == "mask"
        task, settings = model_task(model)
        return {m.metric: m.value for m in task_metrics(storage.resolve(model.path), sources.open_dataset(
            dataset, model).samples(), task=task, settings=settings)}

    assert model_task(model)[0].name == "segmentation"
    assert scored(mask) == {"miou": 1.0, "pixel_accuracy": 1.0}
    # class 0: 32/32; class 1: 0/16 (never predicted); class 2: 16/32 -> mIoU 0.5, pixels 48/64
    assert scored(wrong) == {"miou": pytest.approx((1 + 0 + 0.5) / 3), "pixel_accuracy": 0.75}


def test_cli_add_data_reads_a_coco_file_beside_the_zip_and_refuses_labels_unfit_for_the_task(lab_env, tmp_path, capsys):
    from core.cli import main
    from db import repository as repo

    (tmp_path / "images.zip").write_bytes(_zip({"a.png": _png(), "b.png": _png()}))
    (tmp_path / "instances.json").write_text(COCO)
    assert main(["add-data", str(tmp_path / "images.zip"), "--task", "segmentation",
                 "--annotations", str(tmp_path / "instances.json")]) == 2
    assert "has boxes labels, and the task asked for needs a masks/ folder" in capsys.readouterr().err
    assert repo.list_datasets() == [] and not list((lab_env / "datasets").iterdir())
    assert main(["add-data", str(tmp_path / "images.zip"), "--task", "detection",
                 "--annotations", str(tmp_path / "instances.json"), "--json"]) == 0
    dataset = repo.get_dataset(json.loads(capsys.readouterr().out)["id"])
    assert sources.label_kind(dataset) == "boxes" and dataset.classes == ["cat", "dog"]


def test_the_trained_detector_scores_the_same_map_on_its_coco_yolo_and_voc_zips(lab_env):
    """assets/tasks: the same 200 images annotated three ways read as the same boxes."""
    from core import storage
    from core.config import ASSETS_DIR
    from core.intake.model_intake import add_model_from_path
    from core.measure.evaluate import task_metrics
    from core.tasks.registry import model_task

    model = add_model_from_path(ASSETS_DIR / "tasks" / "shapes_detector.onnx")
    task, settings = model_task(model)
    found = []
    for layout in ("coco", "yolo", "voc"):
        dataset = sources.add_data_from_path(ASSETS_DIR / "tasks" / f"shapes_detection_{layout}.zip")
        assert dataset.classes == ["square", "circle", "triangle"]
        found.append({m.metric: m.value for m in task_metrics(storage.resolve(model.path), sources.open_dataset(
            dataset, model).samples(), task=task, settings=settings)})
    assert found[0] == found[1] == found[2]
    assert found[0]["map50"] > 0.8 and 0 < found[0]["map50_95"] < found[0]["map50"]


def test_an_import_job_reads_the_annotation_file_beside_the_zip_and_refuses_labels_unfit_for_the_task(lab_env):
    from core import lab
    from core.jobs.queue import supervise_job
    from db import repository as repo

    images = _zip({"a.png": _png(), "b.png": _png()})
    refused = lab.submit_import(("images.zip", images), annotations=("instances.json", COCO.encode()),
                                task="text-recognition")
    supervise_job(refused.id)
    refused = repo.get_job(refused.id)
    assert refused.status == "failed" and "has boxes labels, and the task asked for needs a string" in refused.message
    job = lab.submit_import(("images.zip", images), annotations=("instances.json", COCO.encode()), task="detection")
    supervise_job(job.id)
    dataset = repo.get_dataset(repo.get_job(job.id).dataset_id)
    assert sources.label_kind(dataset) == "boxes" and dataset.samples == 2
    assert not list((lab_env / "uploads").rglob("*.json")), "the uploads are removed when the job ends"
