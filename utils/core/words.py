"""The units the offline backbone looks up: lower-cased words and punctuation marks, and the hashed character n-grams of a
word (plain Python: prediction from an export needs neither torch nor the training stack)."""
from __future__ import annotations

import re
import zlib
from functools import lru_cache

TOKEN = re.compile(r"\w+|[^\w\s]")


@lru_cache(maxsize=200_000)
def word_ngrams(word: str, low: int, high: int, buckets: int) -> tuple[int, ...]:
    """Hashed ids of the character n-grams of `<word>` plus the whole `<word>` (fastText-style, stable across runs)."""
    wrapped = f"<{word}>"
    grams = {wrapped[i:i + n] for n in range(low, high + 1) for i in range(len(wrapped) - n + 1)} | {wrapped}
    return tuple(sorted(zlib.crc32(gram.encode("utf-8")) % buckets for gram in grams))


def split_words(text: str) -> list[str]:
    """Lower-case words and punctuation marks, the units the offline backbone looks up."""
    return TOKEN.findall(text.lower())
