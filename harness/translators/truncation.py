"""Which outputs stopped at ``max_new_tokens`` rather than at an end-of-sequence token."""

from __future__ import annotations

from collections.abc import Collection, Sequence


def hit_token_limit(
    generated: Sequence[Sequence[int]],
    eos_ids: Collection[int],
    max_new_tokens: int,
    forced_eos: bool,
) -> list[bool]:
    """Per row of ``generated`` (the tokens ``generate()`` produced, decoder start or prompt
    removed, padding after the end): whether generation ran out of room.

    A row with no EOS did. With a forced EOS (Marian's ``forced_eos_token_id``) transformers
    writes an EOS into the last allowed position, so an EOS exactly there means the same.
    """
    eos = set(eos_ids)
    out = []
    for row in generated:
        first = next((i for i, tok in enumerate(row) if tok in eos), None)
        out.append(first is None or (forced_eos and first == max_new_tokens - 1))
    return out


def eos_token_ids(generation_config: object) -> list[int]:
    """The generation config's EOS id(s) as a list."""
    value = getattr(generation_config, "eos_token_id", None)
    if value is None:
        return []
    return [int(v) for v in value] if isinstance(value, list | tuple) else [int(value)]
