"""The COMET network: encoder + layer mix + heads, with the checkpoint's weights loaded.

Module names mirror COMET's (``encoder.model``, ``layerwise_attention``, ``estimator.ff``,
``hidden2tag``), so a published ``state_dict`` loads without renaming.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from harness.errors import MetricError
from harness.metrics.neural import encoder as enc
from harness.metrics.neural.checkpoint import CometCheckpoint
from harness.metrics.neural.layers import LayerMix, feed_forward, pool

log = logging.getLogger(__name__)

# State-dict entries COMET saves that inference does not use.
_UNUSED = (
    "layerwise_attention.dropout_mask",
    "layerwise_attention.dropout_fill",
    "wordloss.weight",
    "encoder.model.embeddings.position_ids",
    "encoder.model.embeddings.token_type_ids",
    "encoder.model.pooler.",
)


@dataclass
class UnifiedOutputs:
    scores: list[torch.Tensor]  # per input (COMET's order), shape (n,)
    probs: list[list[torch.Tensor]]  # per input, per segment: (mt subwords, classes)
    mt_ids: list[list[int]]
    mt_offsets: list[list[tuple[int, int]]]


class _Holder(nn.Module):
    """``encoder.model`` / ``estimator.ff``: the extra level COMET's names have."""

    def __init__(self, **children: nn.Module) -> None:
        super().__init__()
        for name, child in children.items():
            self.add_module(name, child)


class CometNetwork(nn.Module):
    def __init__(self, checkpoint: CometCheckpoint, source: enc.EncoderSource, options) -> None:
        super().__init__()
        hp = checkpoint.hparams
        self.tokenizer = enc.load_tokenizer(source)
        model, self.encoder_revision = enc.build_encoder(source, str(hp["encoder_model"]))
        self.encoder = _Holder(model=model)
        config = model.config
        self.num_layers = config.num_hidden_layers + 1
        self.max_positions = config.max_position_embeddings - 2  # COMET's max_positions
        hidden = config.hidden_size
        unified = checkpoint.class_identifier != "regression_metric"
        self.layer = hp.get("sent_layer", hp.get("layer")) if unified else hp.get("layer")
        self.layerwise_attention: LayerMix | None = None
        if self.layer == "mix":
            self.layerwise_attention = LayerMix(
                self.num_layers, bool(hp["layer_norm"]), str(hp["layer_transformation"])
            )
        in_dim = hidden if unified else hidden * 6
        self.estimator = _Holder(
            ff=feed_forward(
                in_dim, list(hp["hidden_sizes"]), str(hp["activations"]), hp.get("final_activation")
            )
        )
        if checkpoint.class_identifier == "xcomet_metric" or hp.get("word_level_training"):
            self.hidden2tag = nn.Linear(hidden, len(hp["error_labels"]) + 1)
            self.word_layer = int(hp["word_layer"])
        self.pool_kind = str(hp.get("pool", "avg"))
        self._load_weights(checkpoint)
        self.layers_run = self._drop_unused_layers(str(hp["encoder_model"]))
        self.device = enc.resolve_device(options.device)
        self.dtype = enc.resolve_dtype(options.dtype, self.device)
        self.eval().to(self.device)
        self.encoder.to(self.dtype)
        self.options = options
        self.pad_id = self.tokenizer.pad_token_id
        self.cls_id, self.sep_id = self.tokenizer.cls_token_id, self.tokenizer.sep_token_id

    def _load_weights(self, checkpoint: CometCheckpoint) -> None:
        where = checkpoint.folder / "checkpoints" / "model.ckpt"
        what = f"{checkpoint.class_identifier}, encoder {checkpoint.hparams['pretrained_model']}"
        try:
            # assign=True adopts the checkpoint's tensors instead of copying them: one copy
            # of the weights in memory instead of two.
            result = self.load_state_dict(checkpoint.state_dict, strict=False, assign=True)
        except RuntimeError as e:  # shapes differ
            raise MetricError(f"{where} does not fit its hparams ({what}): {e}") from e
        missing = list(result.missing_keys)
        unexpected = [k for k in result.unexpected_keys if not k.startswith(_UNUSED)]
        if missing or unexpected:
            raise MetricError(
                f"{where} does not fit its hparams ({what}): missing {missing[:5]}, "
                f"unexpected {unexpected[:5]}"
            )

    def _drop_unused_layers(self, encoder_model: str) -> int:
        """Run only the encoder layers whose outputs are used; returns how many run.

        A sparsemax mix often gives the top layers weight 0, and nothing reads them then.
        Only for XLM-RoBERTa: XLM-RoBERTa-XL layer-normalizes its LAST hidden state, so
        cutting layers would change what the last kept one holds.
        """
        layers = self.encoder.model.encoder.layer
        if encoder_model != "XLM-RoBERTa" or self.pool_kind == "default":
            return len(layers)
        if self.layerwise_attention is not None:
            nonzero = torch.nonzero(self.layerwise_attention.weights().detach())
            top = int(nonzero.max()) if nonzero.numel() else 0
        elif isinstance(self.layer, int):
            top = self.layer
        else:
            return len(layers)
        if hasattr(self, "hidden2tag"):
            top = max(top, self.word_layer)
        if top < len(layers):
            log.info("encoder layers %d-%d have weight 0: not run", top + 1, len(layers))
            self.encoder.model.encoder.layer = layers[:top]
        return min(top, len(layers))

    # -- shared ------------------------------------------------------------------------

    def tokenize(self, texts: Sequence[str], offsets: bool = False) -> Any:
        return self.tokenizer(
            list(texts),
            truncation=True,
            max_length=self.max_positions - 2,
            return_offsets_mapping=offsets,
        )

    def _batches(self, sequences: list[list[int]], label: str):
        """(indices, all hidden layers, mask) per length-sorted batch under the token budget."""
        progress = enc.Progress(label, len(sequences), self.device)
        for batch in enc.token_batches(
            [len(s) for s in sequences], self.options.batch_size, self.options.max_tokens
        ):
            ids, mask = enc.pad([sequences[i] for i in batch], self.pad_id, self.device)
            out = self.encoder.model(input_ids=ids, attention_mask=mask, output_hidden_states=True)
            yield batch, out.hidden_states, mask
            progress.advance(len(batch))

    def _embeddings(self, layers: tuple[torch.Tensor, ...], mask: torch.Tensor) -> torch.Tensor:
        if self.layerwise_attention is not None:
            return self.layerwise_attention([h.float() for h in layers], mask)
        if isinstance(self.layer, int) and 0 <= self.layer < self.num_layers:
            return layers[self.layer].float()
        raise MetricError(f"checkpoint names encoder layer {self.layer!r}; invalid here")

    # -- regression_metric ---------------------------------------------------------------

    def regression(self, sources, hypotheses, references) -> list[float]:
        texts = [str(t) for t in (*sources, *hypotheses, *references)]
        unique = list(dict.fromkeys(texts))
        ids = self.tokenize(unique)["input_ids"]
        hidden = self.encoder.model.config.hidden_size
        sentemb = torch.empty((len(unique), hidden), dtype=torch.float32, device=self.device)
        for batch, layers, mask in self._batches(ids, "comet"):
            embeddings = self._embeddings(layers, mask)
            sentemb[batch] = pool(self.pool_kind, embeddings, layers[-1].float(), mask)
        row = {t: i for i, t in enumerate(unique)}
        n = len(sources)
        src, mt, ref = (sentemb[[row[t] for t in texts[k * n : (k + 1) * n]]] for k in range(3))
        features = torch.cat(
            (mt, ref, mt * ref, torch.abs(mt - ref), mt * src, torch.abs(mt - src)), dim=1
        )
        return self.estimator.ff(features).view(-1).float().cpu().tolist()

    # -- unified_metric / xcomet_metric ------------------------------------------------

    def joint(self, parts: Sequence[Sequence[int]]) -> list[int]:
        """COMET's ``concat_sequences``: <s> a </s></s> b [</s></s> c] </s>, then its cut."""
        seq = [self.cls_id, *parts[0][1:-1]]
        for part in parts[1:]:
            seq += [self.sep_id, self.sep_id, *part[1:-1]]
        seq.append(self.sep_id)
        if sum(len(p) - 2 for p in parts) > self.max_positions - (1 + 2 * len(parts)):
            seq = seq[: self.max_positions]
        return seq

    def unified(self, hypotheses, sources, references, word_level: bool) -> UnifiedOutputs:
        mt = self.tokenize(hypotheses, offsets=word_level)
        mt_ids = mt["input_ids"]
        src_ids = self.tokenize(sources)["input_ids"] if sources is not None else None
        ref_ids = self.tokenize(references)["input_ids"] if references is not None else None
        if src_ids is not None and ref_ids is not None:
            inputs = [
                list(zip(mt_ids, src_ids, strict=True)),
                list(zip(mt_ids, ref_ids, strict=True)),
                list(zip(mt_ids, src_ids, ref_ids, strict=True)),
            ]
        else:
            other = src_ids if src_ids is not None else ref_ids
            inputs = (
                [list(zip(mt_ids, other, strict=True))]
                if other is not None
                else [[(m,) for m in mt_ids]]
            )
        sequences = [self.joint(parts) for rows in inputs for parts in rows]
        unique = list(dict.fromkeys(tuple(s) for s in sequences))
        lengths = [len(m) for m in mt_ids] * len(inputs)
        scores, probs = self._run_unified([list(u) for u in unique], word_level)
        index = {u: i for i, u in enumerate(unique)}
        n = len(hypotheses)
        out_scores, out_probs = [], []
        for k in range(len(inputs)):
            rows = [index[tuple(s)] for s in sequences[k * n : (k + 1) * n]]
            out_scores.append(scores[rows])
            if word_level:
                out_probs.append([probs[r][: lengths[k * n + j]] for j, r in enumerate(rows)])
        offsets = [[tuple(o) for o in row] for row in mt["offset_mapping"]] if word_level else []
        return UnifiedOutputs(out_scores, out_probs, mt_ids, offsets)

    def _run_unified(self, sequences: list[list[int]], word_level: bool):
        scores = torch.empty(len(sequences), dtype=torch.float32)
        probs: list[Any] = [None] * len(sequences)
        for batch, layers, mask in self._batches(sequences, "comet (unified)"):
            embeddings = self._embeddings(layers, mask)
            scores[batch] = self.estimator.ff(embeddings[:, 0, :]).view(-1).float().cpu()
            if word_level:
                logits = self.hidden2tag(layers[self.word_layer].float())
                soft = torch.softmax(logits, dim=2).cpu()
                for row, i in enumerate(batch):
                    probs[i] = soft[row, : len(sequences[i])]
        return scores, probs
