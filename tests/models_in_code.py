"""Tiny real OpenVINO models built in code, so tests need no downloads."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def make_classifier(path: Path, *, channels: int = 1, size: int = 28, classes: int = 10,
                    dynamic_batch: bool = True, seed: int = 0) -> Path:
    """Builds a small conv -> relu -> global-pool -> matmul classifier and saves it as IR.

    Args:
        path: Where to write model.xml (the .bin lands beside it).
        channels: Input channels (1 = grayscale, 3 = colour).
        size: Input height and width.
        classes: Number of output logits.
        dynamic_batch: Leave the batch dimension dynamic (-1) like most exported models.
        seed: Seed of the random weights.

    Returns:
        The path of the saved .xml.
    """
    import openvino as ov
    import openvino.opset13 as ops

    rng = np.random.default_rng(seed)
    batch = -1 if dynamic_batch else 1
    x = ops.parameter([batch, channels, size, size], np.float32, name="input")
    w1 = ops.constant(rng.normal(0, 0.2, (16, channels, 3, 3)).astype(np.float32))
    conv = ops.relu(ops.convolution(x, w1, [1, 1], [1, 1], [1, 1], [1, 1]))
    w2 = ops.constant(rng.normal(0, 0.2, (32, 16, 3, 3)).astype(np.float32))
    conv2 = ops.relu(ops.convolution(conv, w2, [2, 2], [1, 1], [1, 1], [1, 1]))
    pooled = ops.reduce_mean(conv2, ops.constant(np.array([2, 3], dtype=np.int64)), keep_dims=False)
    w3 = ops.constant(rng.normal(0, 0.2, (32, classes)).astype(np.float32))
    logits = ops.matmul(pooled, w3, False, False)
    logits.output(0).get_tensor().set_names({"logits"})
    model = ov.Model([logits], [x], "tiny_classifier")
    path.parent.mkdir(parents=True, exist_ok=True)
    ov.save_model(model, str(path), compress_to_fp16=False)
    return path


def make_transformer_block(path: Path, *, vocab: int = 1000, hidden: int = 256, seed: int = 0) -> Path:
    """A transformer-shaped IR: token embedding (Gather) -> two MatMul projections -> logits.

    Input "input_ids" [batch, seq] i64, output "logits" [batch, seq, vocab]. Weight compression
    targets exactly these Gather / MatMul weights.
    """
    import openvino as ov
    import openvino.opset13 as ops

    rng = np.random.default_rng(seed)
    ids = ops.parameter([-1, -1], np.int64, name="input_ids")
    table = ops.constant(rng.normal(0, 0.02, (vocab, hidden)).astype(np.float32))
    hidden_states = ops.gather(table, ids, ops.constant(np.array(0, dtype=np.int64)))
    for _ in range(2):
        weight = ops.constant(rng.normal(0, 0.05, (hidden * 2, hidden)).astype(np.float32))
        up = ops.relu(ops.matmul(hidden_states, weight, False, True))
        weight = ops.constant(rng.normal(0, 0.05, (hidden, hidden * 2)).astype(np.float32))
        hidden_states = ops.add(hidden_states, ops.matmul(up, weight, False, True))
    head = ops.constant(rng.normal(0, 0.05, (vocab, hidden)).astype(np.float32))
    logits = ops.matmul(hidden_states, head, False, True)
    logits.output(0).get_tensor().set_names({"logits"})
    model = ov.Model([logits], [ids], "tiny_transformer")
    path.parent.mkdir(parents=True, exist_ok=True)
    ov.save_model(model, str(path), compress_to_fp16=False)
    return path


def make_outlier_classifier(path: Path, *, features: int = 16, classes: int = 4, seed: int = 0) -> Path:
    """A classifier that plain INT8 breaks: one hidden channel is ~10^4 times larger than the
    others, so a per-tensor activation quantizer on the hidden layer wipes out the small channels
    that decide the class. Accuracy-controlled quantization must revert that quantizer.
    """
    import openvino as ov
    import openvino.opset13 as ops

    rng = np.random.default_rng(seed)
    hidden = 32
    w1 = rng.normal(0, 0.05, (features, hidden)).astype(np.float32)
    w1[:, 0] = 500.0  # the outlier channel (always large for positive inputs)
    w2 = rng.normal(0, 1.0, (hidden, classes)).astype(np.float32)
    w2[0, :] = 0.0  # ...which does not take part in the decision
    x = ops.parameter([-1, features], np.float32, name="features")
    hidden_layer = ops.matmul(x, ops.constant(w1), False, False)
    hidden_layer.set_friendly_name("hidden")
    h = ops.relu(hidden_layer)
    logits = ops.matmul(h, ops.constant(w2), False, False)
    logits.set_friendly_name("head")  # the fragile layer: its input carries the outlier channel
    logits.output(0).get_tensor().set_names({"logits"})
    model = ov.Model([logits], [x], "outlier_classifier")
    path.parent.mkdir(parents=True, exist_ok=True)
    ov.save_model(model, str(path), compress_to_fp16=False)
    return path


def make_resnet18_like(path: Path, *, size: int = 224, classes: int = 1000, seed: int = 0) -> Path:
    """A ResNet-18-sized classifier (~11.7 M weights, ~1.8 GFLOPs at 224²) built with opset13.

    Stem conv 7×7/2 + max-pool, four stages of two basic blocks (64, 128, 256, 512 channels, with
    1×1 projection shortcuts where the shape changes), global average pool and a linear head.
    Timing on it is dominated by the convolutions, not Python overhead (for fidelity checks).
    Input "input" [-1, 3, size, size] f32, output "logits" [-1, classes].
    """
    import openvino as ov
    import openvino.opset13 as ops

    rng = np.random.default_rng(seed)

    def conv(x, cin, cout, k, stride):
        weight = rng.normal(0, (2.0 / (cin * k * k)) ** 0.5, (cout, cin, k, k)).astype(np.float32)
        pad = k // 2
        out = ops.convolution(x, ops.constant(weight), [stride, stride], [pad, pad], [pad, pad], [1, 1])
        return ops.add(out, ops.constant(np.zeros((1, cout, 1, 1), np.float32)))

    x = ops.parameter([-1, 3, size, size], np.float32, name="input")
    y = ops.relu(conv(x, 3, 64, 7, 2))
    y = ops.max_pool(y, [2, 2], [1, 1], [1, 1], [1, 1], [3, 3]).output(0)
    cin = 64
    for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
        for block in range(2):
            s = stride if block == 0 else 1
            shortcut = conv(y, cin, cout, 1, s) if (s != 1 or cin != cout) else y
            out = ops.relu(conv(y, cin, cout, 3, s))
            y = ops.relu(ops.add(conv(out, cout, cout, 3, 1), shortcut))
            cin = cout
    pooled = ops.reduce_mean(y, ops.constant(np.array([2, 3], dtype=np.int64)), keep_dims=False)
    head = ops.constant(rng.normal(0, 0.01, (512, classes)).astype(np.float32))
    logits = ops.matmul(pooled, head, False, False)
    logits.output(0).get_tensor().set_names({"logits"})
    model = ov.Model([logits], [x], "resnet18_like")
    path.parent.mkdir(parents=True, exist_ok=True)
    ov.save_model(model, str(path), compress_to_fp16=False)
    return path


TEXT = ("the quick brown fox jumps over the lazy dog. a model is measured before and after each change. "
        "weights in four bits take an eighth of the bytes of weights in thirty-two bits. ") * 8


def make_causal_lm_checkpoint(folder: Path, *, hidden: int = 128, layers: int = 2, seed: int = 0) -> Path:
    """A Hugging Face checkpoint folder (config.json, model.safetensors, tokenizer files) of a small
    random Llama with a byte-level BPE tokenizer trained on TEXT, FP32 weights (needs torch and
    transformers: requirements-llm.txt)."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    torch.manual_seed(seed)
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.train_from_iterator([TEXT], trainers.BpeTrainer(
        vocab_size=320, special_tokens=["<|endoftext|>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, bos_token="<|endoftext|>", eos_token="<|endoftext|>",
                                   pad_token="<|endoftext|>")
    config = LlamaConfig(vocab_size=len(fast), hidden_size=hidden, intermediate_size=2 * hidden,
                         num_hidden_layers=layers, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=256, bos_token_id=fast.eos_token_id, eos_token_id=fast.eos_token_id,
                         tie_word_embeddings=True)
    LlamaForCausalLM(config).save_pretrained(folder)
    fast.save_pretrained(folder)
    return folder
