"""Map the authors' TensorFlow variables onto our modules, by an explicit table.

``tf_to_state_dict`` is a pure function from a ``{TF variable name: array}`` mapping to a PyTorch
``state_dict``: every TF tensor must be consumed, every shape is checked, and the result loads
with ``strict=True``. ``state_dict_to_tf`` is its inverse (used to write test checkpoints).

Layouts (spec section 3): a conv kernel is stored ``[kh, kw, in, out]`` and becomes
``Conv2d.weight[out, in, kh, kw]``; a transposed-conv kernel is stored ``[kh, kw, out, in]`` and
becomes ``ConvTranspose2d.weight[in, out, kh, kw]``. Both are the permutation (3, 2, 0, 1), with
no spatial flip.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from kind.models import build_network
from kind.weights.tf_checkpoint import CheckpointError, read_checkpoint

TF_SCOPES = {"decom": "DecomNet", "restore": "Restoration_net", "adjust": "Illumination_adjust_net"}

# (TF layer scope, our module path, has a bias). Transposed convolutions are the bias-free rows.
LAYER_TABLE: dict[str, list[tuple[str, str, bool]]] = {
    "decom": [
        ("g_conv1_1", "conv1", True),
        ("g_conv2_1", "conv2", True),
        ("g_conv3_1", "conv3", True),
        ("g_up_1", "up8.deconv", False),
        ("g_conv8_1", "conv8", True),
        ("g_up_2", "up9.deconv", False),
        ("g_conv9_1", "conv9", True),
        ("g_conv10", "r_out", True),
        ("l_conv1_2", "l_conv", True),
        ("l_conv1_4", "l_out", True),
    ],
    "restore": [
        *[
            (f"de_conv{level}_{i}", f"enc{level}.conv{i}", True)
            for level in range(1, 6)
            for i in (1, 2)
        ],
        *[
            row
            for level in range(6, 10)
            for row in (
                (f"up_{level}", f"up{level}.deconv", False),
                (f"de_conv{level}_1", f"dec{level}.conv1", True),
                (f"de_conv{level}_2", f"dec{level}.conv2", True),
            )
        ],
        ("de_conv10", "out", True),
    ],
    "adjust": [(f"en_conv_{i}", f"conv{i}", True) for i in range(1, 5)],
}

KERNEL_PERMUTATION = (3, 2, 0, 1)  # TF [kh, kw, a, b] → PyTorch [b, a, kh, kw]


def _name_pairs(network: str) -> list[tuple[str, str]]:
    """(TF variable name, state_dict key) for every tensor of ``network``."""
    scope = TF_SCOPES[network]
    pairs = []
    for tf_layer, module, has_bias in LAYER_TABLE[network]:
        pairs.append((f"{scope}/{tf_layer}/weights", f"{module}.weight"))
        if has_bias:
            pairs.append((f"{scope}/{tf_layer}/biases", f"{module}.bias"))
    return pairs


def _check_network(network: str) -> None:
    if network not in TF_SCOPES:
        raise ValueError(f"unknown network {network!r}: expected one of {sorted(TF_SCOPES)}")


def tf_to_state_dict(
    tensors: Mapping[str, np.ndarray], network: str, source: str = "checkpoint"
) -> dict[str, Tensor]:
    """Convert TF variables of ``network`` (``decom``, ``restore``, ``adjust``) to a state_dict.

    Raises ``ValueError`` naming ``source`` when a variable is missing or unexpected (e.g. a
    checkpoint of another network) or when a shape does not match.
    """
    _check_network(network)
    pairs = _name_pairs(network)
    expected_names = {tf_name for tf_name, _ in pairs}
    missing = sorted(expected_names - set(tensors))
    unexpected = sorted(set(tensors) - expected_names)
    if missing or unexpected:
        other = [
            name
            for name, scope in TF_SCOPES.items()
            if name != network and any(key.startswith(scope + "/") for key in tensors)
        ]
        hint = f" (it looks like a {'/'.join(other)} checkpoint)" if other else ""
        raise CheckpointError(
            f"{source}: not a {TF_SCOPES[network]} checkpoint{hint}; "
            f"missing variables: {missing or 'none'}; unexpected variables: {unexpected or 'none'}"
        )
    reference = build_network(network).state_dict()
    state_dict = {}
    for tf_name, key in pairs:
        array = np.asarray(tensors[tf_name])
        value = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))
        if value.dim() == 4:
            value = value.permute(*KERNEL_PERMUTATION).contiguous()
        if value.shape != reference[key].shape:
            raise CheckpointError(
                f"{source}: variable {tf_name} has shape {tuple(array.shape)}, which does not give "
                f"{key} of shape {tuple(reference[key].shape)}"
            )
        state_dict[key] = value
    return state_dict


def state_dict_to_tf(state_dict: Mapping[str, Tensor], network: str) -> dict[str, np.ndarray]:
    """The inverse of :func:`tf_to_state_dict`: our state_dict → TF variable name → array."""
    _check_network(network)
    tensors = {}
    for tf_name, key in _name_pairs(network):
        value = state_dict[key].detach().cpu().float()
        if value.dim() == 4:
            value = value.permute(2, 3, 1, 0)  # inverse of (3, 2, 0, 1)
        tensors[tf_name] = np.ascontiguousarray(value.numpy())
    return tensors


def read_tf_network(prefix: str | Path, network: str) -> dict[str, Tensor]:
    """Read the TF checkpoint ``prefix`` of ``network`` into a state_dict."""
    return tf_to_state_dict(read_checkpoint(prefix), network, source=str(prefix))


def convert_tf_checkpoint(prefix: str | Path, out_path: str | Path, network: str) -> dict:
    """Convert the TF checkpoint ``prefix`` of ``network`` into a kind weight file at ``out_path``.

    Returns the record written (see :mod:`kind.weights.format`).
    """
    from kind.weights.format import save_record, weight_record

    state_dict = read_tf_network(prefix, network)
    record = weight_record(network, state_dict, source=f"tensorflow checkpoint {Path(prefix)}")
    save_record(out_path, record)
    return record
