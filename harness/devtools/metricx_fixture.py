"""The tiny MetricX-24 test checkpoint: stored compactly, expanded to the hub layout on demand.

MetricX-24 reads its score from a fixed vocabulary position (logit 250089, ``<extra_id_10>`` in
mT5's vocabulary), so even a tiny model needs mT5's full 250,112-row embedding and output layer.
Only a few of those rows ever take part in a score: the embeddings of the pieces the tiny
tokenizer can produce, and the output rows around 250089 (kept non-zero so that an off-by-one
position gives a different number). The fixture therefore stores those rows alone
(``compact.safetensors``, tens of kB) and :func:`expand_checkpoint` writes the full
``config.json`` + ``model.safetensors`` folder that ``from_pretrained`` loads, with zeros in the
other rows. The expansion is deterministic, so the folder the goldens were computed on and the
one the tests load are the same (the goldens record its sha256).

Only torch, safetensors and the standard library are used: the goldens script runs this in the
reference venv (google-research/metricx's pins), the tests in the harness venv.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

COMPACT_FILE = "compact.safetensors"
ROWS_SUFFIX = ":rows"  # tensor of the first n rows, or of the rows listed under ROW_IDS_SUFFIX
ROW_IDS_SUFFIX = ":row_ids"
# Matrices with one row per vocabulary entry in an mT5 checkpoint.
VOCAB_MATRICES = ("shared.weight", "lm_head.weight")


def compact_state_dict(
    state: Mapping[str, Any], *, embedding_rows: int, head_row_ids: list[int]
) -> dict[str, Any]:
    """The tensors to store: everything but the vocabulary matrices, plus their used rows.

    ``embedding_rows``: how many leading rows of ``shared.weight`` the tokenizer can reach.
    ``head_row_ids``: the rows of ``lm_head.weight`` to keep. Tied copies of the embedding
    (``encoder.embed_tokens``/``decoder.embed_tokens``) are left out, as ``save_pretrained``
    leaves them out of a safetensors file.
    """
    import torch

    out: dict[str, Any] = {}
    for key, tensor in state.items():
        if key.endswith("embed_tokens.weight") or key in VOCAB_MATRICES:
            continue
        out[key] = tensor.detach().contiguous().clone()
    out["shared.weight" + ROWS_SUFFIX] = (
        state["shared.weight"][:embedding_rows].contiguous().clone()
    )
    ids = torch.tensor(head_row_ids, dtype=torch.int64)
    out["lm_head.weight" + ROWS_SUFFIX] = state["lm_head.weight"][ids].contiguous().clone()
    out["lm_head.weight" + ROW_IDS_SUFFIX] = ids
    return out


def expand_state_dict(compact: Mapping[str, Any], *, vocab_size: int) -> dict[str, Any]:
    """Full tensors from :func:`compact_state_dict`'s output: zeros in the rows not stored."""
    import torch

    out: dict[str, Any] = {}
    for key, tensor in compact.items():
        if key.endswith(ROW_IDS_SUFFIX):
            continue
        if not key.endswith(ROWS_SUFFIX):
            out[key] = tensor
            continue
        name = key[: -len(ROWS_SUFFIX)]
        full = torch.zeros((vocab_size, tensor.shape[1]), dtype=tensor.dtype)
        ids = compact.get(name + ROW_IDS_SUFFIX)
        if ids is None:
            full[: tensor.shape[0]] = tensor
        else:
            full[ids] = tensor
        out[name] = full
    return out


def expand_checkpoint(compact_dir: Path, dest: Path) -> Path:
    """Write ``dest/config.json`` and ``dest/model.safetensors`` (the hub layout) and return dest.

    ``compact_dir`` holds ``config.json`` (copied byte for byte) and ``compact.safetensors``.
    """
    from safetensors.torch import load_file, save_file

    config = json.loads((compact_dir / "config.json").read_text(encoding="utf-8"))
    tensors = expand_state_dict(
        load_file(compact_dir / COMPACT_FILE), vocab_size=config["vocab_size"]
    )
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(compact_dir / "config.json", dest / "config.json")
    # Sorted keys and fixed metadata: the same bytes from any safetensors version that writes
    # the documented format.
    ordered = {key: tensors[key].contiguous() for key in sorted(tensors)}
    save_file(ordered, str(dest / "model.safetensors"), metadata={"format": "pt"})
    return dest


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
