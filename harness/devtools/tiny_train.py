"""A tiny Marian EN->VI model that really translates its (template) training sentences.

Random weights prove the plumbing; they cannot prove that a translator returns the right
translation for the right source. This model can: trained for about a minute on 2 cores on
template sentence pairs, it reproduces them (train-set BLEU near 100), so end-to-end tests can
assert real scores. Small enough (~1.5 MB) to commit as a test fixture.
"""

from __future__ import annotations

import itertools
import random
from pathlib import Path
from typing import Any

from harness.devtools.tiny_models import MarianSize, build_tiny_marian, vietnamese_charset_lines

_GREETINGS = [
    ("Hello, how are you?", "Xin chào, bạn có khỏe không?"),
    ("Thank you very much.", "Cảm ơn bạn rất nhiều."),
    ("Good morning.", "Chào buổi sáng."),
    ("See you tomorrow.", "Hẹn gặp lại bạn vào ngày mai."),
    ("I am a student.", "Tôi là sinh viên."),
    ("What is your name?", "Bạn tên là gì?"),
]
_NOUNS = [
    ("cat", "Con mèo"),
    ("dog", "Con chó"),
    ("house", "Ngôi nhà"),
    ("book", "Cuốn sách"),
    ("river", "Dòng sông"),
    ("car", "Chiếc xe"),
    ("teacher", "Giáo viên"),
    ("city", "Thành phố"),
]
_ADJECTIVES = [
    ("big", "lớn"),
    ("small", "nhỏ"),
    ("beautiful", "đẹp"),
    ("old", "cũ"),
    ("new", "mới"),
    ("quiet", "yên tĩnh"),
]
_PLACES = [
    ("the market", "chợ"),
    ("the school", "trường học"),
    ("the hospital", "bệnh viện"),
    ("the station", "nhà ga"),
    ("the museum", "bảo tàng"),
    ("the beach", "bãi biển"),
    ("Hanoi", "Hà Nội"),
    ("the library", "thư viện"),
]
_FOODS = [
    ("rice", "cơm"),
    ("noodles", "phở"),
    ("coffee", "cà phê"),
    ("tea", "trà"),
    ("fish", "cá"),
    ("bread", "bánh mì"),
    ("fruit", "trái cây"),
    ("soup", "canh"),
]
_DRINKS = {"coffee", "tea"}  # drunk (uống), not eaten (ăn)
_PEOPLE = [("I", "Tôi"), ("We", "Chúng tôi"), ("They", "Họ"), ("My friends", "Bạn bè tôi")]


def training_pairs() -> list[tuple[str, str]]:
    """About 350 English-Vietnamese pairs from fixed templates (deterministic order)."""
    pairs = list(_GREETINGS)
    for (noun, noun_vi), (adj, adj_vi) in itertools.product(_NOUNS, _ADJECTIVES):
        pairs.append((f"The {noun} is very {adj}.", f"{noun_vi} rất {adj_vi}."))
        pairs.append((f"This {noun} is not {adj}.", f"{noun_vi} này không {adj_vi}."))
        pairs.append((f"Is the {noun} {adj}?", f"{noun_vi} có {adj_vi} không?"))
    for (who, who_vi), (place, place_vi) in itertools.product(_PEOPLE, _PLACES):
        pairs.append(
            (f"{who} went to {place} yesterday.", f"Hôm qua {who_vi.lower()} đã đi {place_vi}.")
        )
        pairs.append(
            (f"{who} will go to {place} tomorrow.", f"Ngày mai {who_vi.lower()} sẽ đi {place_vi}.")
        )
    for (who, who_vi), (food, food_vi) in itertools.product(_PEOPLE, _FOODS):
        pairs.append((f"{who} like {food}.", f"{who_vi} thích {food_vi}."))
        pairs.append((f"{who} do not like {food}.", f"{who_vi} không thích {food_vi}."))
        verb, verb_vi = ("drink", "uống") if food in _DRINKS else ("eat", "ăn")
        pairs.append((f"{who} want to {verb} {food}.", f"{who_vi} muốn {verb_vi} {food_vi}."))
    for place, place_vi in _PLACES:
        pairs.append((f"Where is {place}?", f"{place_vi[0].upper() + place_vi[1:]} ở đâu?"))
    return pairs


def build_trained_tiny_marian(dest: Path, *, seed: int = 0, epochs: int = 40) -> Path:
    """Build a tiny Marian (as :func:`build_tiny_marian`) and train it on :func:`training_pairs`.

    The decoder-start (``<pad>``) embedding row is held at zero throughout, so CTranslate2's
    conversion (which assumes a zero start embedding) translates exactly like transformers.
    """
    from transformers import MarianMTModel, MarianTokenizer

    pairs = training_pairs()
    corpus = [s for pair in pairs for s in pair] + vietnamese_charset_lines()
    size = MarianSize(d_model=64, layers=2, heads=4, ffn_dim=256, vocab_size=400, init_std=0.02)
    build_tiny_marian(dest, seed=seed, size=size, corpus=corpus)
    tok = MarianTokenizer.from_pretrained(dest)
    model = MarianMTModel.from_pretrained(dest)
    _train(model, tok, pairs, seed=seed, epochs=epochs)
    model.eval().save_pretrained(dest)
    return Path(dest)


def _train(model: Any, tok: Any, pairs: list[tuple[str, str]], *, seed: int, epochs: int) -> None:
    import torch

    torch.manual_seed(seed)
    rng = random.Random(seed)
    pad = model.config.pad_token_id
    optim = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(epochs):
        order = pairs[:]
        rng.shuffle(order)
        for start in range(0, len(order), 32):
            batch = order[start : start + 32]
            enc = tok(
                [s for s, _ in batch],
                text_target=[t for _, t in batch],
                return_tensors="pt",
                padding=True,
            )
            enc["labels"][enc["labels"] == pad] = -100
            loss = model(**enc).loss
            optim.zero_grad()
            loss.backward()
            optim.step()
            with torch.no_grad():
                model.get_input_embeddings().weight[pad].zero_()
