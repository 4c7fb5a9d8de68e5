"""End-to-end: the committed tiny trained Marian translates correctly on both backends."""

from __future__ import annotations

from pathlib import Path

import pytest
import sacrebleu

from harness.devtools.tiny_train import training_pairs
from harness.translators import CT2ModelConfig, HFModelConfig, build_translator

TRAINED = Path(__file__).parent / "fixtures" / "models" / "tiny-marian-en-vi-trained"
PAIRS = training_pairs()
SOURCES = [s for s, _ in PAIRS]
REFS = [t for _, t in PAIRS]


@pytest.mark.parametrize(
    "cfg",
    [
        HFModelConfig(model=str(TRAINED), batch_size=48, max_new_tokens=32),
        HFModelConfig(model=str(TRAINED), batch_size=16, max_new_tokens=32, num_beams=4),
        CT2ModelConfig(
            backend="ctranslate2",
            model=str(TRAINED),
            batch_size=48,
            max_new_tokens=32,
            compute_type="float32",
        ),
        CT2ModelConfig(
            backend="ctranslate2",
            model=str(TRAINED),
            batch_size=16,
            max_new_tokens=32,
            compute_type="int8",
            num_beams=4,
        ),
    ],
    ids=["hf-greedy", "hf-beam4", "ct2-float32", "ct2-int8-beam4"],
)
def test_trained_model_translates_its_training_set(cfg, tmp_path: Path) -> None:
    tr = build_translator(cfg, cache_dir=tmp_path, progress=False)
    hyps = tr.translate(SOURCES)
    int8 = cfg.backend == "ctranslate2" and cfg.compute_type == "int8"
    # int8 kernels differ between CPUs (measured: on an AMD EPYC beam 4 writes "Xin chàoạn có
    # khỏe không?" for the first source, elsewhere the reference), so int8 is held to the
    # corpus figures below, not to one exact sentence.
    assert int8 or hyps[0] == "Xin chào, bạn có khỏe không?"
    # Order survives length-sorted batching: every hypothesis sits at its own reference.
    exact = sum(h == r for h, r in zip(hyps, REFS, strict=True))
    bleu = sacrebleu.corpus_bleu(hyps, [REFS]).score
    floor = 95 if int8 else 99.9
    assert bleu >= floor, (bleu, exact)
    assert exact >= 0.9 * len(REFS)
    # Reversing the input reverses the output exactly (no position-dependent mix-up).
    assert tr.translate(SOURCES[::-1]) == hyps[::-1]
