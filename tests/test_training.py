"""Training-time optimization (issue 15): QAT and pruning of .pt2 models with real NNCF + torch, run as
jobs (in-process supervisor, or a worker process for cancel / resume), exported to OpenVINO IR."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchao")
pytestmark = pytest.mark.slow

from core import lab  # noqa: E402
from core.intake.sources import add_data_from_path  # noqa: E402
from core.jobs.queue import supervise_job  # noqa: E402
from core.optimize.recipes import PruneOptions, QatOptions, QuantizeOptions  # noqa: E402
from core.options import JobKind, JobStatus, MeasureOptions  # noqa: E402
from core.storage import checkpoint_folder, resolve  # noqa: E402
from db import repository as repo  # noqa: E402
from db import training  # noqa: E402
from tests.torch_models import blobs, make_fragile, save_npz, save_pt2, small_cnn, trained_mlp  # noqa: E402

QUICK = MeasureOptions(seconds=0.5)


def _top1(model_id: int, dataset_id: int) -> float:
    values = [a.value for a in repo.list_accuracy(model_id) if a.metric == "top1" and a.dataset_id == dataset_id]
    assert values, f"model #{model_id} has no top-1 on dataset #{dataset_id}"
    return values[-1]


def _run(kind: JobKind, model_id: int, data_id: int, options, validate_id: int | None):
    job = lab.submit_optimization(kind=kind, model_id=model_id, dataset_id=data_id, options=options,
                                  measure=MeasureOptions(dataset_id=validate_id, seconds=0.5))
    supervise_job(job.id)
    job = repo.get_job(job.id)
    assert job.status == JobStatus.SUCCEEDED, job.message
    return job, repo.get_model(job.result_model_id)


def _ir_zero_share(xml) -> float:
    """Zeros among the MatMul / convolution weights of an IR, counted here (not by the lab's code)."""
    import openvino as ov

    zeros = total = 0
    for op in ov.Core().read_model(str(xml)).get_ops():
        if op.get_type_name() == "Constant" and len(op.get_output_shape(0)) >= 2 and op.get_output_shape(0)[0] > 1:
            data = op.get_data()
            if data.dtype in (np.float32, np.int8):
                zeros, total = zeros + int((data == 0).sum()), total + data.size
    return zeros / total


@pytest.fixture
def fragile_lab(lab_env, tmp_path):
    """A classifier INT8 PTQ ruins (tests.torch_models.make_fragile) with labelled train / validation data."""
    model = lab.add_model_from_path(save_pt2(make_fragile(trained_mlp()), tmp_path / "fragile.pt2"))
    train = add_data_from_path(save_npz(tmp_path / "train.npz", *blobs(600, seed=2)))
    validation = add_data_from_path(save_npz(tmp_path / "validation.npz", *blobs(400, seed=5)))
    return model, train, validation


def test_qat_recovers_what_ptq_lost_within_a_few_epochs(fragile_lab):
    model, train, validation = fragile_lab
    _, ptq = _run(JobKind.QUANTIZE, model.id, train.id, QuantizeOptions(subset_size=300), validation.id)
    job, qat = _run(JobKind.QAT, model.id, train.id, QatOptions(epochs=2, lr=1e-2), validation.id)
    fp32, lost, recovered = _top1(model.id, validation.id), _top1(ptq.id, validation.id), _top1(qat.id, validation.id)
    assert fp32 > 0.9 and lost < 0.5, (fp32, lost)  # the model is built to lose under PTQ
    assert recovered >= fp32 - 0.05, (fp32, lost, recovered)
    # The curve: where QAT started (its own INT8 start, as bad as PTQ) and each epoch, with its loss.
    curve = training.list_epochs(job.id)
    assert [(e.phase, e.epoch) for e in curve] == [("qat", 0), ("qat", 1), ("qat", 2)]
    assert curve[0].loss is None and curve[0].value < 0.5 and all(e.loss > 0 for e in curve[1:])
    assert curve[-1].metric == "top1" and curve[-1].value > 0.9
    # The child is an INT8 IR measured like any other child, its recipe says how it was trained.
    assert qat.parent_id == model.id and qat.recipe["algorithm"] == "qat"
    assert qat.recipe["weight_layers"] == {"i8": 2} and qat.recipe["obtained"]["fake_quantize"] >= 1
    assert qat.recipe["training"]["loss"] == "cross-entropy on the class labels"
    assert {b.hint for b in repo.list_benchmarks(qat.id)} == {"latency", "throughput"}
    assert not checkpoint_folder(job.id).exists()  # removed once the job succeeded


def test_qat_without_labels_distils_from_the_parent(fragile_lab, tmp_path):
    model, _, validation = fragile_lab
    unlabelled = add_data_from_path(save_npz(tmp_path / "raw.npz", blobs(600, seed=2)[0]))
    _, qat = _run(JobKind.QAT, model.id, unlabelled.id, QatOptions(epochs=2, lr=1e-2), validation.id)
    assert qat.recipe["training"]["loss"].startswith("distillation: KL divergence to the FP32 parent's class")
    assert _top1(qat.id, validation.id) >= _top1(model.id, validation.id) - 0.05


def test_magnitude_pruning_reaches_its_ratio_in_the_ir_and_fine_tuning_recovers(lab_env, tmp_path):
    model = lab.add_model_from_path(save_pt2(trained_mlp(spread=1.6, hidden=64), tmp_path / "mlp.pt2"))
    train = add_data_from_path(save_npz(tmp_path / "train.npz", *blobs(1000, seed=2, spread=1.6)))
    validation = add_data_from_path(save_npz(tmp_path / "validation.npz", *blobs(400, seed=5, spread=1.6)))
    job, pruned = _run(JobKind.PRUNE, model.id, train.id, PruneOptions(mode="magnitude_global", ratio=0.9, epochs=3,
                                                                        lr=1e-2), validation.id)
    assert _ir_zero_share(resolve(pruned.path)) >= 0.89
    assert pruned.recipe["sparsity"] == pytest.approx(0.9, abs=0.01)
    curve = training.list_epochs(job.id)
    assert [e.epoch for e in curve] == [0, 1, 2, 3] and all(e.sparsity == pytest.approx(0.9, abs=0.01) for e in curve)
    assert curve[-1].value > curve[0].value, [e.value for e in curve]  # fine-tuning won back what pruning cost
    assert _top1(pruned.id, validation.id) == pytest.approx(curve[-1].value, abs=0.02)  # IR = trained model


def test_pruning_then_qat_keeps_the_zeros_in_int8_weights(lab_env, tmp_path):
    model = lab.add_model_from_path(save_pt2(small_cnn(), tmp_path / "cnn.pt2", example_shape=(2, 3, 8, 8)))
    rng = np.random.default_rng(0)
    train = add_data_from_path(save_npz(tmp_path / "images.npz", rng.normal(0, 1, (128, 3, 8, 8)).astype(np.float32)))
    job, child = _run(JobKind.PRUNE, model.id, train.id, PruneOptions(ratio=0.5, epochs=1, then_qat=True, qat_epochs=1,
                                                                      batch_size=16, subset_size=64), None)
    assert [(e.phase, e.epoch) for e in training.list_epochs(job.id)] == [("prune", 0), ("prune", 1), ("qat", 0),
                                                                          ("qat", 1)]
    assert child.recipe["weight_layers"].get("i8") == 3  # both convolutions and the linear layer
    assert _ir_zero_share(resolve(child.path)) >= 0.49
    assert child.name.endswith("pruned 50% + QAT")


def test_the_trained_ir_gives_the_trained_torch_models_outputs(tmp_path):
    import nncf
    import openvino as ov

    from core.optimize.torch_program import to_openvino, trainable

    path = save_pt2(small_cnn(), tmp_path / "cnn.pt2", example_shape=(2, 3, 8, 8))
    x = torch.randn(32, 3, 8, 8)
    module = trainable(path)
    assert torch.allclose(module(x), torch.export.load(str(path)).module()(x), atol=1e-6)  # the rewrite keeps the maths
    module.train()
    module(x)  # batch norm follows train(): its running statistics move
    assert not torch.allclose(module.program.get_submodule("1_norm").running_mean, torch.zeros(8))
    quantized = nncf.quantize(module.eval(), nncf.Dataset([x[:16], x[16:]]))
    optimizer = torch.optim.Adam(quantized.parameters(), lr=1e-2)
    for _ in range(3):
        quantized.train()
        optimizer.zero_grad()
        quantized(x).pow(2).mean().backward()
        optimizer.step()
    quantized.eval()
    converted = to_openvino(quantized, (x[:1],), input_names=["pixels"], output_names=["scores"], shapes=[[-1, 3, 8, 8]])
    compiled = ov.compile_model(converted, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    with torch.no_grad():
        expected = quantized(x).numpy()
    assert np.abs(compiled(x.numpy())["scores"] - expected).max() < 1e-4
    assert converted.input(0).get_any_name() == "pixels" and str(converted.input(0).get_partial_shape()) == "[?,3,8,8]"


def test_training_a_model_without_its_pytorch_form_is_refused_before_anything_is_queued(lab_env, classifier_ir, tmp_path):
    from core.errors import BadInputError

    model = lab.add_model_from_path(classifier_ir)
    data = add_data_from_path(save_npz(tmp_path / "d.npz", np.zeros((4, 1, 3, 8, 8), np.float32)))
    with pytest.raises(BadInputError, match=r"not added as a PyTorch ExportedProgram \(\.pt2\)"):
        lab.submit_optimization(kind=JobKind.QAT, model_id=model.id, dataset_id=data.id, options=QatOptions(),
                                measure=QUICK)
    assert repo.list_jobs() == []


def test_cancel_mid_epoch_keeps_the_last_checkpoint_and_rerun_resumes_from_it(lab_env, monkeypatch):
    from core.jobs import runner as jobs
    from tests.test_jobs import start_worker, wait_for

    monkeypatch.setenv("OPTLAB_HEARTBEAT_SECONDS", "0.5")
    model, calibration, validation = lab.ensure_demo()  # the demo CNN's .pt2: a few seconds per epoch here
    job = lab.submit_optimization(kind=JobKind.QAT, model_id=model.id, dataset_id=calibration.id,
                                  options=QatOptions(epochs=3, lr=1e-5), measure=MeasureOptions(
                                      dataset_id=validation.id, seconds=0.5))
    worker = start_worker()
    try:
        wait_for(job.id, lambda j: "qat epoch 2/3" in (j.message or "") + j.stage, timeout=300)
        jobs.cancel(job.id)
        assert wait_for(job.id, lambda j: JobStatus(j.status).finished, timeout=30).status == JobStatus.CANCELLED
        kept = torch.load(checkpoint_folder(job.id) / "last.pt", weights_only=True)
        assert kept["phase"] == 0 and kept["epoch"] >= 1
        before = {(e.phase, e.epoch): e.id for e in training.list_epochs(job.id)}
        jobs.rerun(job.id)
        done = wait_for(job.id, lambda j: JobStatus(j.status).finished, timeout=300)
    finally:
        worker.kill()
        worker.wait()
    assert done.status == JobStatus.SUCCEEDED, done.message
    child = repo.get_model(done.result_model_id)
    assert child.recipe["training"]["resumed_from"] == {"phase": "qat", "epoch": kept["epoch"]}
    after = {(e.phase, e.epoch): e.id for e in training.list_epochs(job.id)}
    assert sorted(after) == [("qat", 0), ("qat", 1), ("qat", 2), ("qat", 3)]
    # The epochs the checkpoint held were not trained again (their rows are the first attempt's).
    assert all(after[("qat", n)] == before[("qat", n)] for n in range(kept["epoch"] + 1))
    assert [h["epoch"] for h in child.recipe["training"]["history"]] == [0, 1, 2, 3]


def test_a_ptq_result_that_lost_more_than_its_max_drop_proposes_qat_sized_to_its_data(fragile_lab, tmp_path, capsys):
    from core.cli import main

    model, train, validation = fragile_lab
    ptq_job, ptq = _run(JobKind.QUANTIZE, model.id, train.id, QuantizeOptions(subset_size=300), validation.id)
    found = lab.recovery_for(ptq_job.id)
    lost = _top1(model.id, validation.id) - _top1(ptq.id, validation.id)
    assert found.metric == "top1" and found.drop == pytest.approx(lost) and found.max_drop == 0.01
    assert found.blocker is None and (found.model_id, found.dataset_id, found.validation_id) == (
        model.id, train.id, validation.id)  # the FP32 parent, trained on what PTQ calibrated on, judged alike
    # 600 labelled samples: 5 epochs (about 3000 samples seen), batch 32, half distillation from the parent.
    assert (found.options.epochs, found.options.batch_size, found.options.distillation_weight) == (5, 32, 0.5)
    assert found.options.subset_size == 300 and "5 epochs of the 600 training samples" in found.sizing
    capsys.readouterr()
    assert main(["recover", str(ptq_job.id)]) == 0
    assert "QAT: 5 epochs of the 600 training samples" in capsys.readouterr().err
    job = repo.list_jobs()[0]
    assert job.kind == JobKind.QAT and job.model_id == model.id and job.dataset_id == train.id
    assert job.options["recipe"]["epochs"] == 5 and job.options["measure"]["dataset_id"] == validation.id
    supervise_job(job.id)  # the proposal wins back what PTQ lost (here 0.23 -> 0.94 of 0.96 in 5 epochs)
    recovered = repo.get_model(repo.get_job(job.id).result_model_id)
    assert _top1(recovered.id, validation.id) >= _top1(model.id, validation.id) - 0.05
    # A PTQ within its drop, and a job of another kind, propose nothing; the CLI says why.
    sturdy = lab.add_model_from_path(save_pt2(trained_mlp(), tmp_path / "sturdy.pt2"))
    fine_job, _ = _run(JobKind.QUANTIZE, sturdy.id, train.id, QuantizeOptions(subset_size=300), validation.id)
    assert lab.recovery_for(fine_job.id) is None and lab.recovery_for(job.id) is None
    assert main(["recover", str(fine_job.id)]) == 2
    assert "there is no accuracy to recover" in capsys.readouterr().err


def test_recover_accuracy_on_the_optimize_page_fills_the_qat_form_with_the_proposal(fragile_lab):
    from tests.test_optimize_page import optimize_page

    model, train, validation = fragile_lab
    ptq_job, _ = _run(JobKind.QUANTIZE, model.id, train.id, QuantizeOptions(subset_size=300), validation.id)
    at = optimize_page()
    at.session_state["current_job"] = ptq_job.id
    at.run()
    [warning] = [w for w in at.warning if "lost" in w.value]
    assert f"Job #{ptq_job.id}'s INT8 model lost" in warning.value and "points of top-1" in warning.value
    [recover] = [b for b in at.button if b.label == "Recover accuracy"]
    recover.click().run()
    assert not at.exception
    assert at.radio[0].value == JobKind.QAT
    assert at.number_input(key="opt-QatOptions-epochs").value == 5
    assert at.number_input(key="opt-QatOptions-distillation_weight").value == 0.5
    assert any(f"recover the accuracy job #{ptq_job.id} lost" in i.value for i in at.info)
    [run] = [b for b in at.button if b.label.startswith("Run ")]
    run.click().run()
    assert not at.exception and not at.error, at.error
    qat = repo.list_jobs()[0]
    assert qat.kind == JobKind.QAT and qat.model_id == model.id and qat.dataset_id == train.id
    assert qat.options["recipe"]["epochs"] == 5 and qat.options["measure"]["dataset_id"] == validation.id
