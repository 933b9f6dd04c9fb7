"""Augmented copies of train rows (labels unchanged): ASR-style noise, navec synonym replacement, back-translation."""
from __future__ import annotations

import os
import re
import socket
import zlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..core.settings import AugmentConfig
from ..core.splits import SOURCE, TEXT
from ..core.text import asr_style, fold_yo, morphology

_WORD = re.compile(r"[^\W\d_]+")
HUB_HOST = "huggingface.co"


def generator_for(seed: int, purpose: str) -> np.random.Generator:
    """A generator of its own per purpose, so switching one step on or off leaves the draws of the others unchanged."""
    return np.random.default_rng([seed, zlib.crc32(purpose.encode("utf-8"))])


def pick_rows(count: int, share: float, rng: np.random.Generator) -> np.ndarray:
    """Indices of round(share x count) rows drawn without replacement, in their original order."""
    if not 0 <= share <= 1:
        raise ValueError(f"augmentation share: expected a number between 0 and 1, got {share}")
    return np.sort(rng.choice(count, size=round(share * count), replace=False))


@dataclass(frozen=True)
class SlipPatterns:
    """What the slip dictionary teaches: whole-word slips, word endings, and words that get merged with a neighbour."""

    word_slips: dict[str, tuple[str, ...]]  # fix -> its slips, e.g. 'что' -> ('че', 'чо', ...)
    endings: tuple[tuple[str, str], ...]  # (ending, slip), e.g. ('шь', 'ш') from будешь -> будеш
    merge_before: frozenset[str]  # merged with the next word, e.g. 'не' (не знаю -> незнаю)
    merge_after: frozenset[str]  # merged with the previous word, e.g. 'то' (как то -> както)


def learn_slip_patterns(slips: dict[str, str], min_merges: int = 2) -> SlipPatterns:
    """Generalise a slip -> fix dictionary: endings that a slip shortens or changes (with one letter of context, after a
    stem of 3+ letters), and words merged with a neighbour in at least `min_merges` entries."""
    word_slips: dict[str, list[str]] = {}
    endings: set[tuple[str, str]] = set()
    before, after = Counter(), Counter()
    for slip, fix in slips.items():
        fix = fold_yo(fix.lower())
        if " " in fix:
            first, _, second = fix.partition(" ")
            if fix.replace(" ", "") == slip:
                before[first] += 1
                after[second] += 1
            continue
        word_slips.setdefault(fix, []).append(slip)
        stem = len(os.path.commonprefix([fix, slip]))  # noqa: RUF071  (the common prefix of two words, character by character, not a path)
        if stem >= 3 and len(slip) - stem <= len(fix) - stem <= 3:
            endings.add((fix[stem - 1 :], slip[stem - 1 :]))
    return SlipPatterns(
        word_slips={fix: tuple(sorted(s)) for fix, s in word_slips.items()},
        endings=tuple(sorted(endings)),
        merge_before=frozenset(w for w, n in before.items() if n >= min_merges),
        merge_after=frozenset(w for w, n in after.items() if n >= min_merges),
    )


def _word_noise(word: str, patterns: SlipPatterns, rng: np.random.Generator) -> str | None:
    """One slip for a word (a dictionary slip or a learned ending), or None when none applies."""
    word = fold_yo(word)
    options = list(patterns.word_slips.get(word, ()))
    options += [word[: -len(end)] + slip for end, slip in patterns.endings if word.endswith(end) and len(word) > len(end) + 1]
    return options[rng.integers(len(options))] if options else None


def asr_noise(text: str, patterns: SlipPatterns, rng: np.random.Generator, rate: float) -> str:
    """Make clean text look transcribed: ASR style (lower case, no punctuation), then per word, with chance `rate`,
    a slip or a merge with the next word where the dictionary's patterns allow one."""
    words = asr_style(text).split()
    noisy: list[str] = []
    i = 0
    while i < len(words):
        word = words[i]
        if rng.random() < rate:
            if i + 1 < len(words) and (word in patterns.merge_before or words[i + 1] in patterns.merge_after):
                noisy.append(word + words[i + 1])
                i += 2
                continue
            word = _word_noise(word, patterns, rng) or word
        noisy.append(word)
        i += 1
    return " ".join(noisy)


def _form(parse) -> tuple:
    """The grammatical form a replacement must share: part of speech, case, number, gender."""
    tag = parse.tag
    return tag.POS, tag.case, tag.number, tag.gender


class NeighbourFinder:
    """Nearest navec neighbours within a candidate vocabulary, of the same grammatical form and another lemma."""

    def __init__(self, vocabulary: Sequence[str], navec, pos: Sequence[str], min_similarity: float, top_k: int = 5):
        morph = morphology()
        words = sorted({w for w in vocabulary if len(w) >= 3 and w in navec})
        parses = [morph.parse(w)[0] for w in words]
        keep = [i for i, p in enumerate(parses) if p.tag.POS in set(pos)]
        self.words = [words[i] for i in keep]
        self.forms = [_form(parses[i]) for i in keep]
        self.lemmas = [parses[i].normal_form for i in keep]
        self.index = {w: i for i, w in enumerate(self.words)}
        vectors = navec.pq.sampled([navec.vocab[w] for w in self.words]).unpack().astype(np.float32)
        self.vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)
        self.min_similarity, self.top_k = min_similarity, top_k

    def neighbours(self, words: Sequence[str], batch: int = 2048) -> dict[str, tuple[str, ...]]:
        """Each known word's neighbours (best first); words without any are left out."""
        queries = sorted({w for w in words if w in self.index})
        found: dict[str, tuple[str, ...]] = {}
        for start in range(0, len(queries), batch):
            part = queries[start : start + batch]
            similarity = self.vectors[[self.index[w] for w in part]] @ self.vectors.T
            for word, row in zip(part, similarity):
                i = self.index[word]
                top = np.argpartition(-row, min(10 * self.top_k, len(row) - 1))[: 10 * self.top_k]
                order = top[np.argsort(-row[top])]
                near = [self.words[j] for j in order if row[j] >= self.min_similarity and j != i
                        and self.forms[j] == self.forms[i] and self.lemmas[j] != self.lemmas[i]]
                if near:
                    found[word] = tuple(near[: self.top_k])
        return found


def replace_synonyms(text: str, neighbours: dict[str, tuple[str, ...]], rng: np.random.Generator, rate: float) -> str | None:
    """Replace each replaceable word with chance `rate` (at least one) by a random neighbour; None if none is replaceable."""
    spans = [m for m in _WORD.finditer(text) if m.group().lower() in neighbours]
    if not spans:
        return None
    chosen = [m for m in spans if rng.random() < rate] or [spans[rng.integers(len(spans))]]
    pieces, last = [], 0
    for m in chosen:
        options = neighbours[m.group().lower()]
        new = options[rng.integers(len(options))]
        pieces += [text[last : m.start()], new.capitalize() if m.group()[0].isupper() else new]
        last = m.end()
    return "".join(pieces) + text[last:]


def _hub_reachable(timeout: float = 3.0) -> bool:
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("", "0"):
        return False
    try:
        socket.create_connection((HUB_HOST, 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def load_translator(name: str, device: str):
    """A Marian opus-mt tokenizer and model from a local folder, the Hugging Face cache, or (when reachable) the Hub."""
    from huggingface_hub import try_to_load_from_cache
    from transformers import MarianMTModel, MarianTokenizer

    local_only = Path(name).is_dir() or not _hub_reachable()
    if local_only and not Path(name).is_dir() and not isinstance(try_to_load_from_cache(name, "config.json"), str):
        raise OSError(f"{name}: not a local folder, not in the Hugging Face cache, and {HUB_HOST} is not reachable")
    tokenizer = MarianTokenizer.from_pretrained(name, local_files_only=local_only)
    model = MarianMTModel.from_pretrained(name, local_files_only=local_only).to(device).eval()
    return tokenizer, model


def translate(texts: Sequence[str], tokenizer, model, batch_size: int = 32, max_length: int = 256) -> list[str]:
    """Translate texts in batches with beam search, printing progress."""
    import torch

    out: list[str] = []
    for start in range(0, len(texts), batch_size):
        batch = tokenizer(list(texts[start : start + batch_size]), return_tensors="pt", padding=True, truncation=True,
                          max_length=max_length)
        with torch.no_grad():
            generated = model.generate(**batch.to(model.device), num_beams=4, max_new_tokens=max_length)
        out += tokenizer.batch_decode(generated, skip_special_tokens=True)
        if (start // batch_size) % 20 == 0 or start + batch_size >= len(texts):
            print(f"  translated {min(start + batch_size, len(texts))}/{len(texts)}", flush=True)
    return out


def back_translate(texts: Sequence[str], models: Sequence[str], batch_size: int = 32) -> list[str] | None:
    """ru -> en -> ru through two Marian models (GPU when present); None, with a notice, when they cannot be loaded."""
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        translators = [load_translator(name, device) for name in models]
    except (OSError, ImportError, ValueError) as error:
        print(f"Notice: back-translation skipped, no rows added: the models {list(models)} could not be loaded "
              f"(offline, or not downloaded; give local folders in expansion.augment.back_translation_models). {error}")
        return None
    for tokenizer, model in translators:
        texts = translate(texts, tokenizer, model, batch_size)
    return list(texts)


def asr_copies(texts: list[str], config: AugmentConfig, rng: np.random.Generator, vocabulary: list[str], slips: dict) -> list[str]:
    """ASR-style noisy copies."""
    patterns = learn_slip_patterns(slips)
    return [asr_noise(text, patterns, rng, config.asr_slip_rate) for text in texts]


def synonym_copies(texts: list[str], config: AugmentConfig, rng: np.random.Generator, vocabulary: list[str],
                   slips: dict) -> list[str | None]:
    """Copies with words replaced by navec neighbours found among the train vocabulary; None where nothing is replaceable."""
    from ..core.navec import load_navec

    finder = NeighbourFinder(vocabulary, load_navec(), config.synonym_pos, config.synonym_min_similarity)
    neighbours = finder.neighbours([w.lower() for text in texts for w in _WORD.findall(text)])
    return [replace_synonyms(text, neighbours, rng, config.synonym_rate) for text in texts]


def back_translation_copies(texts: list[str], config: AugmentConfig, rng: np.random.Generator, vocabulary: list[str],
                            slips: dict) -> list[str] | None:
    """Back-translated copies, or None when the models are not available."""
    return back_translate(texts, config.back_translation_models)


AUGMENTERS = {"asr_noise": asr_copies, "synonyms": synonym_copies, "back_translation": back_translation_copies}


def augment_train(train: pd.DataFrame, config: AugmentConfig, seed: int, slips: dict) -> tuple[list[pd.DataFrame], pd.DataFrame]:
    """Each switched-on method copies share x eligible train rows with new text and the same labels.

    Returns the new rows per method (indexed like the train rows they copy, with a `source` column naming the
    method) and a table: share, rows drawn, rows added, note.
    """
    eligible = np.flatnonzero(train[config.labels].to_numpy().any(axis=1)) if config.labels else np.arange(len(train))
    vocabulary = [w.lower() for text in train[TEXT] for w in _WORD.findall(text)]
    frames, report = [], []
    for method, make_copies in AUGMENTERS.items():
        share = getattr(config, method)
        if not share:
            report.append({"method": method, "share": share, "drawn": 0, "added": 0, "note": "off"})
            continue
        rng = generator_for(seed, method)
        picked = train.iloc[eligible[pick_rows(len(eligible), share, rng)]]
        texts = make_copies(picked[TEXT].tolist(), config, rng, vocabulary, slips)
        if texts is None:
            report.append({"method": method, "share": share, "drawn": len(picked), "added": 0, "note": "models not available"})
            continue
        copies = picked.assign(**{TEXT: texts, SOURCE: method})
        useful = copies[TEXT].notna() & (copies[TEXT].fillna("").str.strip() != "") & (copies[TEXT] != picked[TEXT])
        frames.append(copies[useful])
        note = f"{int((~useful).sum())} drawn rows gave no new text" if (~useful).any() else ""
        report.append({"method": method, "share": share, "drawn": len(picked), "added": int(useful.sum()), "note": note})
        print(f"  augmentation {method}: {int(useful.sum())} rows added", flush=True)
    return frames, pd.DataFrame(report, columns=["method", "share", "drawn", "added", "note"])
