"""A CLIP byte-pair tokenizer built offline from a fixed word list.

Every word of the list becomes one token: it is first split by the merges
made so far, then new merges join its pieces left to right (``or an`` ->
``oran``, ...). A merge added later has a higher rank, so it never changes how
an earlier word is split. Any other text still tokenizes, into smaller pieces.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from transformers import CLIPTokenizer

__all__ = ["IDENTIFIERS", "build_tokenizer"]

IDENTIFIERS = ("sks", "zwx", "qrv", "vbn", "xjy", "kpt", "wzd", "fqh")
"""Rare identifier words in the vocabulary but in no caption (DreamBooth's ``sks``)."""

_SPECIAL = ("<|startoftext|>", "<|endoftext|>")


def _split(word: str, ranks: dict[tuple[str, str], int]) -> list[str]:
    """Byte-pair encode one word: apply the lowest-ranked merge until none applies."""
    pieces = [*word[:-1], word[-1] + "</w>"]
    while len(pieces) > 1:
        pairs = [(ranks.get(pair, len(ranks)), i)
                 for i, pair in enumerate(zip(pieces[:-1], pieces[1:], strict=True))]
        rank, i = min(pairs)
        if rank == len(ranks):
            break
        pair = (pieces[i], pieces[i + 1])
        merged, j = [], 0
        while j < len(pieces):
            if j + 1 < len(pieces) and (pieces[j], pieces[j + 1]) == pair:
                merged.append(pieces[j] + pieces[j + 1])
                j += 2
            else:
                merged.append(pieces[j])
                j += 1
        pieces = merged
    return pieces


def build_tokenizer(
    words: Iterable[str], folder: str | Path, max_length: int = 32
) -> CLIPTokenizer:
    """Write ``vocab.json`` and ``merges.txt`` for ``words`` into ``folder`` and load them.

    The vocabulary holds the printable ASCII characters (alone and word-final
    ``c</w>``), each word's left-to-right prefixes and the two special tokens;
    ``max_length`` is the tokenizer's ``model_max_length`` (tokens per prompt).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    chars = [chr(c) for c in range(33, 127)]
    vocab: dict[str, int] = {}
    for token in [*chars, *(c + "</w>" for c in chars)]:
        vocab.setdefault(token, len(vocab))
    ranks: dict[tuple[str, str], int] = {}
    for word in dict.fromkeys(w.lower() for w in words):
        pieces = _split(word, ranks)
        while len(pieces) > 1:
            ranks[(pieces[0], pieces[1])] = len(ranks)
            pieces = [pieces[0] + pieces[1], *pieces[2:]]
            vocab.setdefault(pieces[0], len(vocab))
    for token in _SPECIAL:
        vocab[token] = len(vocab)
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=True))
    merges = sorted(ranks, key=ranks.__getitem__)
    (folder / "merges.txt").write_text(
        "#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges))
    tokenizer = CLIPTokenizer(vocab=vocab, merges=merges, model_max_length=max_length)
    tokenizer.save_pretrained(folder)
    return CLIPTokenizer.from_pretrained(folder)
