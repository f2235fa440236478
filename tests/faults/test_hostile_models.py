"""Hostile model files (issue 11): an ONNX whose external weights point outside its upload, and an IR
with XML entities (XXE / billion laughs), are refused or read as plain text; nothing outside is read."""

from __future__ import annotations

import numpy as np
import pytest

from core import lab, storage
from core.errors import ModelFormatError
from db import repository as repo

SECRET = b"TOPSECRET-DATA!!" * 4  # 16 float32 values


def test_onnx_external_data_outside_the_upload_is_refused(lab_env, tmp_path):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    (tmp_path / "outside.bin").write_bytes(SECRET)
    weights = numpy_helper.from_array(np.zeros(16, np.float32), "w")
    weights.ClearField("raw_data")
    weights.data_location = TensorProto.EXTERNAL
    for key, value in (("location", "../../../outside.bin"), ("offset", "0"), ("length", str(len(SECRET)))):
        entry = weights.external_data.add()
        entry.key, entry.value = key, value
    graph = helper.make_graph([helper.make_node("Add", ["x", "w"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [16])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [16])], [weights])
    hostile = tmp_path / "upload" / "model.onnx"
    hostile.parent.mkdir()
    onnx.save(helper.make_model(graph), hostile)
    with pytest.raises(ModelFormatError, match="outside the base directory"):
        lab.add_model_from_path(hostile)
    assert repo.list_models() == [] and not any((lab_env / "models").iterdir())


@pytest.mark.parametrize("entity", ['<!ENTITY leak SYSTEM "file://{secret}">',
                                    '<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
                                    '<!ENTITY leak "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">'])
def test_an_ir_with_xml_entities_does_not_expand_them(lab_env, classifier_ir, entity, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("XXE-LEAKED-SECRET")
    entity = entity.format(secret=secret)
    xml = classifier_ir.read_text()
    hostile = classifier_ir.with_name("hostile.xml")
    hostile.with_suffix(".bin").write_bytes(classifier_ir.with_suffix(".bin").read_bytes())
    body = xml.split("?>", 1)[1] if xml.startswith("<?xml") else xml
    body = body.replace('name="input"', 'name="&leak;"', 1)
    hostile.write_text('<?xml version="1.0"?>\n<!DOCTYPE net [' + entity + "]>" + body)
    try:
        model = lab.add_model_from_path(hostile)
    except ModelFormatError:
        return  # refused: fine
    stored = storage.resolve(model.path).read_text()  # the IR the lab wrote from what OpenVINO read
    assert "aaaaaaaaaa" not in stored and "XXE-LEAKED-SECRET" not in stored
