"""COMET's small modules on top of the encoder, written out so that published weights load.

Each follows unbabel-comet 2.2.7 operation by operation (``comet/modules/layerwise_attention.py``,
``feedforward.py``, ``models/pooling_utils.py``; sparsemax as in ``entmax`` 1.3), because the
order of floating-point operations is what makes the scores equal to 1e-4 and beyond.
Imported only by code that has already imported torch.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from harness.errors import MetricError


def sparsemax(weights: torch.Tensor) -> torch.Tensor:
    """Sparsemax of a 1-D tensor, as ``entmax.sparsemax(weights, dim=0)`` computes it."""
    x = weights - weights.max()
    ordered, _ = torch.sort(x, descending=True)
    cumsum = ordered.cumsum(0) - 1
    rhos = torch.arange(1, x.numel() + 1, device=x.device, dtype=x.dtype)
    support = (rhos * ordered > cumsum).sum().unsqueeze(0)
    tau = cumsum.gather(0, support - 1) / support.to(x.dtype)
    return torch.clamp(x - tau, min=0)


class LayerMix(nn.Module):
    """COMET's ``LayerwiseAttention`` at inference: gamma * sum_k w_k * (norm) layer_k.

    ``w`` is softmax or sparsemax of the scalar parameters. Anything but ``"sparsemax"``
    means softmax, as in COMET (which maps the ``sparsemax_patch`` of some hparams to softmax).
    Layers whose weight is exactly zero are skipped: adding ``0 * x`` changes nothing.
    """

    def __init__(self, num_layers: int, layer_norm: bool, transformation: str) -> None:
        super().__init__()
        self.scalar_parameters = nn.ParameterList(
            [nn.Parameter(torch.zeros(1)) for _ in range(num_layers)]
        )
        self.gamma = nn.Parameter(torch.ones(1))
        self.layer_norm = layer_norm
        self.sparse = transformation == "sparsemax"

    def weights(self) -> torch.Tensor:
        raw = torch.cat(list(self.scalar_parameters))
        return sparsemax(raw) if self.sparse else torch.softmax(raw, dim=0)

    def forward(self, layers: tuple[torch.Tensor, ...], mask: torch.Tensor) -> torch.Tensor:
        weights = self.weights()
        if len(layers) < weights.numel():  # layers cut off above the last used one
            if bool(torch.any(weights[len(layers) :] != 0)):
                raise MetricError(
                    f"the encoder gives {len(layers)} layers, the checkpoint mixes "
                    f"{weights.numel()}"
                )
            weights = weights[: len(layers)]
        elif len(layers) != weights.numel():
            raise MetricError(
                f"the encoder gives {len(layers)} layers, the checkpoint mixes {weights.numel()}"
            )
        mask_float = mask.float()
        broadcast = mask_float.unsqueeze(-1)
        pieces = []
        for k, (weight, tensor) in enumerate(zip(torch.split(weights, 1), layers, strict=True)):
            if self.sparse and float(weights[k]) == 0.0:
                continue
            if self.layer_norm:
                tensor = _masked_layer_norm(tensor, broadcast, mask_float)
            pieces.append(weight * tensor)
        return self.gamma * sum(pieces)


def _masked_layer_norm(
    tensor: torch.Tensor, broadcast_mask: torch.Tensor, mask: torch.Tensor
) -> torch.Tensor:
    """Normalization over all unmasked elements of each sequence (not per token)."""
    batch_size, _, input_dim = tensor.size()
    masked = tensor * broadcast_mask
    count = mask.sum(1) * input_dim
    mean = (masked.view(batch_size, -1).sum(1) / count).view(batch_size, 1, 1)
    variance = (((masked - mean) * broadcast_mask) ** 2).view(batch_size, -1).sum(1) / count
    return (tensor - mean) / torch.sqrt(variance + 1e-12).view(batch_size, 1, 1)


def feed_forward(
    in_dim: int, hidden_sizes: list[int], activations: str, final_activation: str | None
) -> nn.Sequential:
    """COMET's ``FeedForward.ff``: the same module indices, so ``estimator.ff.N`` keys load."""
    sizes = [in_dim, *hidden_sizes]
    modules: list[nn.Module] = []
    for i in range(len(hidden_sizes)):
        modules += [nn.Linear(sizes[i], sizes[i + 1]), _activation(activations), nn.Dropout(0.0)]
    modules.append(nn.Linear(sizes[-1], 1))
    if final_activation is not None:
        modules.append(_activation(final_activation))
    return nn.Sequential(*modules)


def _activation(name: str) -> nn.Module:
    # COMET looks the name up with str.title(): "tanh" -> nn.Tanh, "sigmoid" -> nn.Sigmoid.
    cls: Any = getattr(nn, name.title(), None)
    if cls is None:
        raise MetricError(f"checkpoint names activation {name!r}, which COMET cannot build")
    return cls()


def average_pool(embeddings: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over the unmasked tokens (COMET masks pad-token positions; they coincide)."""
    filled = embeddings.float().masked_fill(~mask.bool().unsqueeze(-1), 0.0).type_as(embeddings)
    total = mask.unsqueeze(-1).expand(embeddings.size()).float().sum(1)
    return torch.sum(filled, 1) / total


def pool(kind: str, embeddings: torch.Tensor, last: torch.Tensor, mask: torch.Tensor):
    """Sentence embedding: ``avg`` | ``max`` | ``cls`` | ``default`` (first token, last layer)."""
    if kind == "avg":
        return average_pool(embeddings, mask)
    if kind == "max":
        filled = embeddings.float().masked_fill(~mask.bool().unsqueeze(-1), float("-inf"))
        return filled.type_as(embeddings).max(dim=1)[0]
    if kind == "cls":
        return embeddings[:, 0, :]
    if kind == "default":
        return last[:, 0, :]
    raise MetricError(f"checkpoint names pooling {kind!r}; COMET knows avg, max, cls, default")
