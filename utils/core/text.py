"""Text preprocessing of the original solution: emoji to Russian words, ASR-style normalisation, slip fixes."""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import emoji

from .paths import repo_path

if TYPE_CHECKING:
    from .settings import TextConfig

SLIPS_FILE = Path(__file__).resolve().parent / "resources" / "asr_slips.csv"
PLACEHOLDER = re.compile(r"\[\s*(?:имя|name)\s*\]", re.IGNORECASE)
NAME_TOKEN = "имя"  # how the speech-recognition test writes the [ИМЯ] placeholder
_EMOJI_OPEN, _EMOJI_CLOSE = "\x02", "\x03"
_EMOJI_NAME = re.compile(f"{_EMOJI_OPEN}(.*?){_EMOJI_CLOSE}")
_NOT_WORD = re.compile(r"[^\w\s]|_")
_WORD = re.compile(r"\w+")


def collapse_spaces(text: str) -> str:
    """Strip and collapse every run of whitespace into one space."""
    return " ".join(text.split())


@lru_cache(maxsize=1)
def _emoji_first_characters() -> frozenset[str]:
    """Every character an emoji can start with: a text holding none of them has no emoji (the common case, checked fast)."""
    return frozenset(sequence[0] for sequence in emoji.EMOJI_DATA) | {"\ufe0f", "\u200d"}  # demojize also drops stray selectors and joiners


def demojize_ru(text: str) -> str:
    """Replace each emoji by its Russian name as plain words: 'ок 👍' -> 'ок большой палец вверх'."""
    if _emoji_first_characters().isdisjoint(text):
        return collapse_spaces(text)
    named = emoji.demojize(text, language="ru", delimiters=(_EMOJI_OPEN, _EMOJI_CLOSE))
    return collapse_spaces(_EMOJI_NAME.sub(lambda m: f" {m.group(1).replace('_', ' ')} ", named))


def fold_yo(text: str) -> str:
    """Write ё as е (and Ё as Е)."""
    return text.replace("ё", "е").replace("Ё", "Е")


def asr_style(text: str) -> str:
    """Make clean text look like the speech-recognition test: lower case, no punctuation, [ИМЯ] -> имя."""
    text = PLACEHOLDER.sub(f" {NAME_TOKEN} ", text).lower()
    return collapse_spaces(_NOT_WORD.sub(" ", text))


def read_slips(path: str | Path) -> dict[str, str]:
    """Read a `slip,fix` CSV into a mapping keyed by the lower-case, ё-folded slip; a bad file is a DataError naming its line."""
    from .splits import DataError, csv_records, decode_csv_bytes  # pandas: only when a slip file is read

    path = Path(path)
    records = [(line, row) for line, row in csv_records(decode_csv_bytes(path.read_bytes(), path), path) if row]
    header = [name.strip() for name in records[0][1]] if records else []
    if records and not {"slip", "fix"} <= set(header):
        raise DataError(f"{path}, header row: expected columns slip,fix; found {header}")
    slips = {}
    for line, row in records[1:]:
        values = dict(zip(header, row))
        slip, fix = (values.get("slip") or "").strip(), (values.get("fix") or "").strip()
        if not slip or not fix or " " in slip:
            raise DataError(f"{path}, line {line}: expected a one-word slip and a non-empty fix, got {values}")
        slips[fold_yo(slip.lower())] = fix
    return slips


@lru_cache(maxsize=8)
def load_slips(extra_file: str | None = None) -> dict[str, str]:
    """The built-in slip dictionary, extended (and overridden) by an optional user CSV of the same shape (a path relative
    to the repository root, as every path setting)."""
    slips = read_slips(SLIPS_FILE)
    if extra_file:
        slips.update(read_slips(repo_path(extra_file)))
    return slips


def fix_slips(text: str, slips: dict[str, str]) -> str:
    """Replace known transcription slips word by word ('ыетс' -> 'это'); other words stay as they are."""
    return _WORD.sub(lambda m: slips.get(fold_yo(m.group().lower()), m.group()), text)


def make_preprocessor(config: TextConfig) -> Callable[[str], str]:
    """Compose the enabled steps into one function: emoji, slip fixes, ASR style, ё folding. Settings that are alike share
    one function, which remembers its recent texts (prediction reads each text for the word list, the BiGRU and TF-IDF)."""
    return composed_preprocessor(config.model_dump_json())


@lru_cache(maxsize=8)
def composed_preprocessor(settings: str) -> Callable[[str], str]:
    """`make_preprocessor` for the text settings as JSON (a cache key)."""
    from .settings import TextConfig

    config = TextConfig.model_validate_json(settings)
    return preprocessor_of(config.demojize, load_slips(config.slips_file) if config.fix_slips else None, config.asr_style, config.yo_to_e)


def preprocessor_of(demojize: bool, slips: dict[str, str] | None, asr: bool, yo_to_e: bool) -> Callable[[str], str]:
    """The enabled steps in the kit's order (emoji, slip fixes when `slips` is given, ASR style, ё folding) as one function
    that remembers its recent texts; needs neither pydantic nor pandas (an exported run uses it)."""
    steps: list[Callable[[str], str]] = []
    if demojize:
        steps.append(demojize_ru)
    if slips is not None:
        steps.append(lambda text: fix_slips(text, slips))
    if asr:
        steps.append(asr_style)
    if yo_to_e:
        steps.append(fold_yo)

    @lru_cache(maxsize=1 << 16)
    def preprocess(text: str) -> str:
        for step in steps:
            text = step(text)
        return collapse_spaces(text)

    return preprocess


def preprocess_texts(texts: Iterable[str], config: TextConfig) -> list[str]:
    """Apply the configured preprocessing to many texts."""
    preprocess = make_preprocessor(config)
    return [preprocess(text) for text in texts]


@lru_cache(maxsize=1)
def morphology():
    """pymorphy3's analyser of Russian word forms (loaded once)."""
    import pymorphy3

    return pymorphy3.MorphAnalyzer()


@lru_cache(maxsize=200_000)
def lemma(word: str) -> str:
    """The dictionary form of a Russian word (its most likely parse); other words unchanged."""
    return morphology().parse(word)[0].normal_form


def lemmatize(text: str) -> str:
    """Every word of a (preprocessed) text in its dictionary form: "мне страшно было" -> "я страшно быть"."""
    return " ".join(lemma(word) for word in re.findall(r"\w+", text))
