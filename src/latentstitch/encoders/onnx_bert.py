"""Convert a BERT encoder exported to ONNX (sentence-transformers naming) into a HF BertModel folder.

The export keeps named initializers for embeddings, biases and layer norms; the dense weights
are anonymous ``MatMul`` inputs, identified through the ``Add`` that follows each of them, whose
other input is the named bias of the same linear layer. The conversion is checked against
onnxruntime (when installed) on a few sentences and refused if not faithful.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

# Tokenizer files copied from the tokenizer folder (the ONNX export ships none).
_TOKENIZER_FILES = ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")
_PROBE_TEXTS = (
    "a cat sat on the mat",
    "Stock markets fell sharply after the announcement, dragging tech shares down.",
    "ok",
)
# Max |difference| of token states allowed between onnxruntime and the converted model.
_FAITHFUL_ATOL = 1e-4


def onnx_bert_state_dict(graph) -> dict[str, np.ndarray]:
    """BertModel state dict (without pooler) from an ONNX graph's initializers."""
    from onnx import numpy_helper

    consumers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    prefixes = [
        p
        for p in ("model.0.auto_model.", "auto_model.", "bert.", "")
        if any(t.name.startswith(p + "embeddings.") for t in graph.initializer)
    ]
    if not prefixes:
        raise ValueError("the ONNX graph has no BERT embeddings initializers")
    prefix = prefixes[0]
    state: dict[str, np.ndarray] = {}
    for tensor in graph.initializer:
        array = numpy_helper.to_array(tensor)
        if tensor.name.startswith(prefix + "embeddings.") or tensor.name.startswith(prefix + "encoder."):
            state[tensor.name[len(prefix) :]] = array
            continue
        users = consumers.get(tensor.name, [])
        if len(users) != 1 or users[0].op_type != "MatMul":
            raise ValueError(f"unexpected ONNX initializer {tensor.name!r} (used by {[u.op_type for u in users]})")
        adds = consumers.get(users[0].output[0], [])
        if len(adds) != 1 or adds[0].op_type != "Add":
            raise ValueError(f"MatMul of {tensor.name!r} is not followed by a bias Add")
        (bias,) = [name for name in adds[0].input if name != users[0].output[0]]
        if not (bias.startswith(prefix) and bias.endswith(".bias")):
            raise ValueError(f"MatMul of {tensor.name!r} is followed by an Add of {bias!r}, not a bias")
        # ONNX MatMul computes x @ W with W (in, out); torch Linear stores (out, in).
        state[bias[len(prefix) : -len(".bias")] + ".weight"] = np.ascontiguousarray(array.T)
    return state


def convert_onnx_bert(onnx_path: Path, tokenizer_dir: Path, dest: Path, *, num_attention_heads: int) -> None:
    """Write a HF BertModel folder (config, safetensors, tokenizer) equivalent to ``onnx_path``.

    Raises ValueError if the graph does not map onto a BertModel exactly (every parameter,
    matching shapes) or if its outputs differ from onnxruntime's by more than 1e-4.
    """
    import onnx
    import torch
    from transformers import BertConfig, BertModel

    graph = onnx.load(str(onnx_path)).graph
    state = onnx_bert_state_dict(graph)
    eps = [a.f for n in graph.node if n.op_type == "LayerNormalization" for a in n.attribute if a.name == "epsilon"]
    if not eps or len(set(np.float32(eps))) != 1:
        raise ValueError(f"{onnx_path.name}: cannot read one LayerNormalization epsilon, got {eps}")
    layers = {int(k.split(".")[2]) for k in state if k.startswith("encoder.layer.")}
    vocab_size, hidden = state["embeddings.word_embeddings.weight"].shape
    config = BertConfig(
        vocab_size=vocab_size,
        hidden_size=hidden,
        num_hidden_layers=len(layers),
        num_attention_heads=num_attention_heads,
        intermediate_size=state["encoder.layer.0.intermediate.dense.weight"].shape[0],
        max_position_embeddings=state["embeddings.position_embeddings.weight"].shape[0],
        type_vocab_size=state["embeddings.token_type_embeddings.weight"].shape[0],
        layer_norm_eps=float(eps[0]),
        hidden_act="gelu",  # the graph's Erf nodes: exact GELU
    )
    model = BertModel(config, add_pooling_layer=False).eval()
    expected = model.state_dict()
    missing, extra = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
    wrong = [k for k in expected if k in state and tuple(expected[k].shape) != state[k].shape]
    if missing or extra or wrong:
        raise ValueError(
            f"{onnx_path.name} does not map onto a BertModel: missing {missing[:5]}, "
            f"unexpected {extra[:5]}, shape mismatches {wrong[:5]}"
        )
    model.load_state_dict({k: torch.tensor(v) for k, v in state.items()}, strict=True)
    for name in _TOKENIZER_FILES:
        if (tokenizer_dir / name).exists():
            shutil.copy2(tokenizer_dir / name, dest / name)
    _check_against_onnxruntime(onnx_path, model, dest)
    model.save_pretrained(dest)


def _check_against_onnxruntime(onnx_path: Path, model, tokenizer_dir: Path) -> None:
    try:
        import onnxruntime
    except ImportError:
        # The real-encoder tests check the converted model's semantics instead.
        return
    import torch
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    batch = tokenizer(list(_PROBE_TEXTS), padding=True, return_tensors="np")
    session = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    feeds = {i.name: batch[i.name].astype(np.int64) for i in session.get_inputs()}
    hidden = model.config.hidden_size
    (ort_states,) = [o for o in session.run(None, feeds) if o.ndim == 3 and o.shape[-1] == hidden]
    with torch.inference_mode():
        states = model(**{k: torch.from_numpy(v) for k, v in feeds.items()}).last_hidden_state.numpy()
    mask = batch["attention_mask"].astype(bool)
    diff = float(np.abs(states - ort_states)[mask].max())
    if diff > _FAITHFUL_ATOL:
        raise ValueError(
            f"converted {onnx_path.name} differs from onnxruntime by {diff:.2e} (> {_FAITHFUL_ATOL}) "
            f"on real tokens: the conversion is not faithful"
        )
