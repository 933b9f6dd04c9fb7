"""What separates valid from the test, without the test's labels, and whether the kit's ASR noise moves valid toward it.

    python benchmarks/valid_test_gap.py [--data-dir ../shared/data/cryptonite] [--out benchmarks/valid_test_gap.md]
                                        [--rates 0.02 0.05 0.1 0.15] [--sweep-auc]

Compares test, valid and train after the kit's normalisation (`asr_style`), and valid written with the kit's ASR noise
exactly as the honest estimate scores it (`noisy_valid_texts` of utils/training/notebook.py with the default settings):
lengths, vocabulary, slips, merged and split words, n-gram overlap with train, the share of call-centre-like rows, and
an adversarial validation (a classifier telling test rows from valid rows; its AUC is lower for the closer set). Then the
noise is taken apart (dictionary slips, learned endings, merges; several rates) to see which part moves valid away.
Text statistics only (about 2 minutes on 2 cores, 5 with --sweep-auc); writes the markdown file and prints it.
"""
from __future__ import annotations

import argparse
import dataclasses
import shlex
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from utils.core.files import write_text  # noqa: E402
from utils.core.navec import load_navec, oov_rate  # noqa: E402
from utils.core.settings import RunConfig  # noqa: E402
from utils.core.splits import SPLIT_FILES, TEXT, read_split  # noqa: E402
from utils.core.text import asr_style, fold_yo, load_slips, make_preprocessor  # noqa: E402
from utils.expansion.augment import SlipPatterns, asr_noise, generator_for, learn_slip_patterns  # noqa: E402

NOISE_PURPOSE = "held-out rows with ASR noise"  # the generator notebook 03 draws the held-out rows' noise from
MIN_BELOW = 0.1  # the call-centre share is read where at least this share of valid rows scores below the threshold
MIN_PART_COUNT = 3  # a piece of a merged or split word must be a train word seen this often (rarer ones are often junk)
FOLDS = 5
TOP = 15  # features and rows listed
TEST, VALID, NOISY, TRAIN = "test", "valid", "valid + ASR noise", "train"
CALL, REST = "test: call-centre-like", "test: the rest (Reddit-like)"  # the test's two parts, as tagged


def words_of(texts: Iterable[str]) -> list[list[str]]:
    """Whitespace tokens of each text (the kit's normalised texts have no punctuation)."""
    return [text.split() for text in texts]


def length_stats(texts: Sequence[str]) -> dict[str, float]:
    """Words and characters per text: mean and median."""
    words = [len(text.split()) for text in texts]
    chars = [len(text) for text in texts]
    return {"words_mean": float(np.mean(words)), "words_median": float(np.median(words)),
            "chars_mean": float(np.mean(chars)), "chars_median": float(np.median(chars))}


def token_share(texts: Iterable[str], counts: Callable[[str], bool]) -> float:
    """Share of the whitespace tokens of `texts` for which `counts(token)` holds."""
    tokens = [token for text in texts for token in text.split()]
    return sum(map(counts, tokens)) / max(len(tokens), 1)


def splits_in_two(token: str, parts) -> bool:
    """True when `token` is two words of `parts` written together ('незнаю' = 'не' + 'знаю')."""
    return any(token[:i] in parts and token[i:] in parts for i in range(1, len(token)))


def merged_share(texts: Iterable[str], known, parts) -> float:
    """Share of tokens that are not `known` words but are two words of `parts` glued together."""
    return token_share(texts, lambda token: token not in known and splits_in_two(token, parts))


def fragment_share(texts: Iterable[str], known, parts) -> float:
    """Share of tokens that are one half of a split word: a neighbouring pair, one of them not a `known` word, that
    written together is a word of `parts` ('пол ностью' -> 'полностью')."""
    inside = total = 0
    for words in words_of(texts):
        total += len(words)
        marked = set()
        for i in range(len(words) - 1):
            first, second = words[i], words[i + 1]
            if (first not in known or second not in known) and first + second in parts:
                marked.update((i, i + 1))
        inside += len(marked)
    return inside / max(total, 1)


def ngrams(words: Sequence[str], n: int) -> list[tuple[str, ...]]:
    """The word n-grams of one text, in order."""
    return [tuple(words[i:i + n]) for i in range(len(words) - n + 1)]


def ngram_overlap(texts: Iterable[str], seen: set, n: int) -> float:
    """Share of the word n-grams of `texts` (occurrences, within each text) that are in `seen`."""
    grams = [gram for words in words_of(texts) for gram in ngrams(words, n)]
    return sum(gram in seen for gram in grams) / max(len(grams), 1)


def mixture_share(scores: np.ndarray, reference: np.ndarray, min_below: float = MIN_BELOW) -> tuple[float, float]:
    """The share of `scores` that come from outside the `reference` distribution, and the threshold that shows it:
    max over t of (s(t) - r(t)) / (1 - r(t)), with s(t), r(t) the shares of scores and reference at or above t (the
    reference part of `scores` is taken to score like `reference`, the rest above t), over the thresholds that leave at
    least `min_below` of the reference below them (in the far lower tail the ratio is noise over a tiny denominator)."""
    thresholds = np.unique(scores)
    above = 1 - np.searchsorted(np.sort(scores), thresholds, side="left") / len(scores)
    ref_above = 1 - np.searchsorted(np.sort(reference), thresholds, side="left") / len(reference)
    usable = 1 - ref_above >= min_below
    shares = np.where(usable, (above - ref_above) / np.where(usable, 1 - ref_above, 1), -np.inf)
    best = int(np.argmax(shares))
    return max(float(shares[best]), 0.0), float(thresholds[best])


def direction(test: float, clean: float, noisy: float, tolerance: float = 0.05) -> str:
    """Whether the noise moves a measure of valid toward the test's value or away from it ('no change' when the distance
    changes by at most `tolerance` of valid's distance)."""
    before, after = abs(clean - test), abs(noisy - test)
    if abs(after - before) <= tolerance * before or after == before:
        return "no change"
    word = "toward" if after < before else "away"
    return word + (" (past it)" if (clean - test) * (noisy - test) < 0 else "")


@dataclasses.dataclass
class Reference:
    """What the measures compare against: train's vocabulary and n-grams, navec's words and the slip dictionary."""

    vocabulary: set
    known: set  # train's and navec's words: a token outside both is not a word either writer would use
    parts: set  # train words seen at least MIN_PART_COUNT times
    seen: dict  # n -> the set of train's n-grams
    navec: object
    slips: dict

    @classmethod
    def of(cls, train_texts: Sequence[str], navec_words, slips: dict) -> Reference:
        counts = Counter(word for text in train_texts for word in text.split())
        seen = {n: {gram for words in words_of(train_texts) for gram in ngrams(words, n)} for n in (1, 2, 3)}
        return cls(set(counts), set(counts) | set(navec_words), {w for w, c in counts.items() if c >= MIN_PART_COUNT}, seen,
                   navec_words, slips)


MEASURES = {  # name -> (label, number format, whether it is measured against train: then not shown for train itself)
    "words_mean": ("words per text, mean", "{:.2f}", False),
    "words_median": ("words per text, median", "{:.0f}", False),
    "chars_mean": ("characters per text, mean", "{:.1f}", False),
    "chars_median": ("characters per text, median", "{:.0f}", False),
    "oov_train": ("words not in train's vocabulary", "{:.2%}", True),
    "oov_train_read": ("... the same after the kit's whole preprocessor (slips fixed, ё folded: what the models read)", "{:.2%}", True),
    "oov_navec": ("words not in navec's vocabulary", "{:.2%}", False),
    "slips": ("words that are slip-dictionary entries", "{:.2%}", False),
    "yo": ("words written with ё", "{:.2%}", False),
    "merged": ("words that are two train words glued together (in neither train nor navec)", "{:.2%}", True),
    "fragments": ("words that are half of a train word split in two", "{:.2%}", True),
    "overlap_1": ("word 1-grams seen in train", "{:.2%}", True),
    "overlap_2": ("word 2-grams seen in train", "{:.2%}", True),
    "overlap_3": ("word 3-grams seen in train", "{:.2%}", True),
    "call_centre": ("rows that look call-centre-like (detector below)", "{:.1%}", False),
}


def measure(texts: Sequence[str], read: Sequence[str], reference: Reference, read_vocabulary: set) -> dict[str, float]:
    """Every text measure of one set; `read` are the same texts after the kit's preprocessor."""
    values = length_stats(texts)
    values.update(
        oov_train=oov_rate(texts, reference.vocabulary),
        oov_train_read=oov_rate(read, read_vocabulary),
        oov_navec=oov_rate(texts, reference.navec),
        slips=token_share(texts, lambda token: fold_yo(token) in reference.slips),
        yo=token_share(texts, lambda token: "ё" in token),
        merged=merged_share(texts, reference.known, reference.parts),
        fragments=fragment_share(texts, reference.known, reference.parts),
        **{f"overlap_{n}": ngram_overlap(texts, reference.seen[n], n) for n in (1, 2, 3)},
    )
    return values


@dataclasses.dataclass
class Adversarial:
    """Out-of-fold P(test) of a test-vs-other classifier on word and character TF-IDF, and its fitted parts."""

    auc: float
    test_scores: np.ndarray
    other_scores: np.ndarray
    other_fold: np.ndarray  # the fold in which each `other` row was held out
    fold_models: list
    full_model: object  # fitted on every row, for its features and for scoring rows of a third set
    features: object

    def score_copies(self, texts: Sequence[str]) -> np.ndarray:
        """P(test) of copies of the `other` rows (same order), each by the fold model that did not train on its original."""
        matrix = self.features.transform(texts)
        scores = np.zeros(len(texts))
        for k, model in enumerate(self.fold_models):
            rows = np.flatnonzero(self.other_fold == k)
            scores[rows] = model.predict_proba(matrix[rows])[:, 1]
        return scores

    def top_features(self, count: int) -> tuple[list[str], list[str]]:
        """The features that most say 'test' and most say 'the other set'."""
        names = self.features.get_feature_names_out()
        order = np.argsort(self.full_model.coef_[0])
        return [names[i] for i in order[::-1][:count]], [names[i] for i in order[:count]]


def adversarial(test: Sequence[str], other: Sequence[str], seed: int, folds: int = FOLDS) -> Adversarial:
    """Cross-validated adversarial validation: logistic regression on word 1-2-gram + character 2-4-gram TF-IDF."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import FeatureUnion

    texts = [*test, *other]
    labels = np.r_[np.ones(len(test)), np.zeros(len(other))]
    features = FeatureUnion([
        ("word", TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True, token_pattern=r"\S+")),
        ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), min_df=3, sublinear_tf=True)),
    ]).fit(texts)
    matrix = features.transform(texts)
    scores, fold_of, models = np.zeros(len(texts)), np.zeros(len(texts), dtype=int), []
    make = lambda: LogisticRegression(C=1.0, max_iter=2000, class_weight="balanced")  # noqa: E731
    for k, (fit, held) in enumerate(StratifiedKFold(folds, shuffle=True, random_state=seed).split(matrix, labels)):
        models.append(make().fit(matrix[fit], labels[fit]))
        scores[held] = models[-1].predict_proba(matrix[held])[:, 1]
        fold_of[held] = k
    return Adversarial(float(roc_auc_score(labels, scores)), scores[: len(test)], scores[len(test):], fold_of[len(test):],
                       models, make().fit(matrix, labels), features)


def noise_variants(patterns: SlipPatterns, rates: Sequence[float], default_rate: float) -> dict[str, tuple[SlipPatterns, float]]:
    """The kit's noise at each rate, and each of its parts alone at the default rate."""
    no_merges = {"merge_before": frozenset(), "merge_after": frozenset()}
    variants = {f"all parts, rate {rate:g}": (patterns, rate) for rate in rates}
    variants.update({
        f"dictionary slips only, rate {default_rate:g}": (dataclasses.replace(patterns, endings=(), **no_merges), default_rate),
        f"learned endings only, rate {default_rate:g}": (dataclasses.replace(patterns, word_slips={}, **no_merges), default_rate),
        f"merges only, rate {default_rate:g}": (dataclasses.replace(patterns, word_slips={}, endings=()), default_rate),
        f"slips + endings, no merges, rate {default_rate:g}": (dataclasses.replace(patterns, **no_merges), default_rate),
    })
    return variants


def noisy_texts(texts: Sequence[str], patterns: SlipPatterns, rate: float, seed: int) -> list[str]:
    """`noisy_valid_texts` of notebook 03 for given patterns and rate: the same generator, the same order."""
    rng = generator_for(seed, NOISE_PURPOSE)
    return [asr_noise(text, patterns, rng, rate) for text in texts]


def table(columns: dict[str, dict[str, float]], shown: Sequence[str]) -> list[str]:
    """A markdown table, one row per measure, one column per set, and where the noise moves valid."""
    names = list(columns)
    lines = ["| measure | " + " | ".join(names) + " | the noise moves valid |", "|---|" + "---:|" * len(names) + "---|"]
    for key in shown:
        label, style, against_train = MEASURES[key]
        cells = ["–" if name == TRAIN and against_train else style.format(columns[name][key]) for name in names]
        cells.append(direction(columns[TEST][key], columns[VALID][key], columns[NOISY][key]))
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


@dataclasses.dataclass
class Sets:
    """The texts compared: as written after `asr_style` (valid + ASR noise as the noise writes it) and as the models
    read them (the kit's whole preprocessor), plus what the noise is made from."""

    written: dict[str, list[str]]
    read: dict[str, list[str]]
    raw_valid: list[str]
    patterns: SlipPatterns
    rate: float
    seed: int
    preprocess: Callable[[str], str]


def load_sets(data_dir: Path) -> tuple[Sets, Reference, set]:
    """The four sets, the reference they are measured against and train's vocabulary as the models read it."""
    config = RunConfig()
    raw = {name: read_split(data_dir / file, test=name == TEST)[TEXT].tolist() for name, file in SPLIT_FILES.items()}
    slips = load_slips(config.text.slips_file)
    patterns, rate = learn_slip_patterns(slips), config.expansion.augment.asr_slip_rate
    preprocess = make_preprocessor(config.text)
    written = {TEST: [asr_style(t) for t in raw["test"]], VALID: [asr_style(t) for t in raw["valid"]],
               NOISY: noisy_texts(raw["valid"], patterns, rate, config.seed), TRAIN: [asr_style(t) for t in raw["train"]]}
    read = {TEST: [preprocess(t) for t in raw["test"]], VALID: [preprocess(t) for t in raw["valid"]],
            NOISY: [preprocess(t) for t in written[NOISY]], TRAIN: [preprocess(t) for t in raw["train"]]}
    reference = Reference.of(written[TRAIN], load_navec().vocab.word_ids, slips)
    sets = Sets(written, read, raw["valid"], patterns, rate, config.seed, preprocess)
    return sets, reference, {word for text in read[TRAIN] for word in text.split()}


def tag_call_centre(clean: Adversarial) -> tuple[np.ndarray, float, float, float]:
    """Test rows tagged call-centre-like (the mixture share's count of highest-scoring rows), the share, the threshold
    that showed it, and the score cutoff of the tagged rows."""
    share, threshold = mixture_share(clean.test_scores, clean.other_scores)
    count = round(share * len(clean.test_scores))
    order = np.argsort(-clean.test_scores, kind="stable")
    tagged = np.zeros(len(order), dtype=bool)
    tagged[order[:count]] = True
    cutoff = float(clean.test_scores[order[count - 1]]) if count else float("inf")
    return tagged, share, threshold, cutoff


def sweep_rows(sets: Sets, reference: Reference, read_vocabulary: set, rates: Sequence[float], sweep_auc: bool,
               shown: Sequence[str]) -> list[str]:
    """One markdown row per noise variant: the measures in `shown` (+ the adversarial AUC against the test, as read)."""
    rows = []
    for label, (variant, rate) in noise_variants(sets.patterns, rates, sets.rate).items():
        texts = noisy_texts(sets.raw_valid, variant, rate, sets.seed)
        read = [sets.preprocess(t) for t in texts]
        values = measure(texts, read, reference, read_vocabulary)
        cells = [MEASURES[key][1].format(values[key]) for key in shown]
        if sweep_auc:
            cells.append(f"{adversarial(sets.read[TEST], read, sets.seed).auc:.4f}")
        rows.append(f"| {label} | " + " | ".join(cells) + " |")
        print(f"  noise variant {label}: done", flush=True)
    return rows


def run(data_dir: Path, rates: Sequence[float], sweep_auc: bool) -> str:
    """Every measure, the detector, the adversarial AUCs and the noise sweep, as markdown."""
    began = time.perf_counter()
    sets, reference, read_vocabulary = load_sets(data_dir)
    written, read = sets.written, sets.read
    print(f"read and normalised the splits in {time.perf_counter() - began:.0f} s; adversarial validation ...", flush=True)
    aucs = {(view, name): adversarial(texts[TEST], texts[name], sets.seed)
            for view, texts in (("written", written), ("read", read)) for name in (VALID, NOISY)}
    clean = aucs["written", VALID]
    tagged, share, threshold, cutoff = tag_call_centre(clean)
    call_scores = {TEST: clean.test_scores, VALID: clean.other_scores, NOISY: clean.score_copies(written[NOISY]),
                   TRAIN: clean.full_model.predict_proba(clean.features.transform(written[TRAIN]))[:, 1]}
    print(f"adversarial validation done at {time.perf_counter() - began:.0f} s; measures ...", flush=True)

    parts = {CALL: tagged, REST: ~tagged}
    columns = {}
    for name in (TEST, CALL, REST, VALID, NOISY, TRAIN):
        base = TEST if name in parts else name
        pick = parts.get(name, np.ones(len(written[base]), dtype=bool))
        columns[name] = measure([t for t, keep in zip(written[base], pick) if keep],
                                [t for t, keep in zip(read[base], pick) if keep], reference, read_vocabulary)
        columns[name]["call_centre"] = float(np.mean(call_scores[base][pick] >= cutoff))
    shown_sweep = ["words_mean", "oov_train", "oov_train_read", "oov_navec", "slips", "merged", "overlap_2"]
    sweep = sweep_rows(sets, reference, read_vocabulary, rates, sweep_auc, shown_sweep)
    print(f"done in {time.perf_counter() - began:.0f} s", flush=True)

    order = np.argsort(-clean.test_scores, kind="stable")
    count = int(tagged.sum())
    test_side, valid_side = clean.top_features(TOP)
    noisy_side = aucs["written", NOISY].top_features(TOP)[1]
    read_noisy_side = aucs["read", NOISY].top_features(TOP)[1]
    plain = lambda features: ", ".join(f"`{name.split('__', 1)[1]}`" for name in features)  # noqa: E731
    reference_rows = [f"| {name} | " + " | ".join(MEASURES[key][1].format(columns[name][key]) for key in shown_sweep)
                      + (f" | {aucs['read', VALID].auc:.4f} |" if name == VALID and sweep_auc else " | – |" if sweep_auc else " |")
                      for name in (TEST, REST, VALID)]
    return "\n".join([
        "## Four text sets (and the test's two parts)",
        "",
        f"Normalised = the kit's `asr_style` (lower case, no punctuation, [ИМЯ] -> имя). Valid + ASR noise = valid written "
        f"with the kit's noise exactly as notebook 03's `noisy_valid_texts` does (slip dictionary + patterns learned from it, "
        f"rate {sets.rate:g} per word, seed {sets.seed}): the held-out rows of the headline estimate. Train's vocabulary: "
        f"{len(reference.vocabulary):,} words; navec's: {len(reference.navec):,}. Merged / split words: the pieces must be "
        f"train words seen {MIN_PART_COUNT}+ times, the merged word neither a train nor a navec word. 'The noise moves "
        "valid' compares valid + ASR noise with valid against the whole test. '–': measured against train, so not shown "
        "for train. The test's two parts: see the detector below.",
        "",
        *table(columns, list(MEASURES)),
        "",
        "## Adversarial validation: can a classifier tell test rows from the set's rows?",
        "",
        f"Logistic regression (balanced classes) on word 1-2-gram + character 2-4-gram TF-IDF, {FOLDS}-fold cross-validated "
        "AUC; 0.5 = indistinguishable, the lower AUC is the set closer to the test. Written: after `asr_style`; read: after "
        "the kit's whole preprocessor (emoji named, slips fixed, ё folded), as the models and the honest estimate see them.",
        "",
        "| pair | AUC, written | AUC, read |",
        "|---|---:|---:|",
        f"| test vs valid | {aucs['written', VALID].auc:.4f} | {aucs['read', VALID].auc:.4f} |",
        f"| test vs valid + ASR noise (the headline's held-out rows) | {aucs['written', NOISY].auc:.4f} | {aucs['read', NOISY].auc:.4f} |",
        "",
        f"- Features that most say test (vs valid, written): {plain(test_side)}",
        f"- Features that most say valid (vs test, written): {plain(valid_side)}",
        f"- Features that most say valid + ASR noise (vs test, written): {plain(noisy_side)}",
        f"- ... the same, read (slips fixed, ё folded): {plain(read_noisy_side)}",
        "",
        "## The test's call-centre-like rows",
        "",
        "Detector: the out-of-fold P(test) of the test-vs-valid classifier above (written). Valid and the test's Reddit rows "
        "come from one source, so those test rows score like valid rows; the share of test rows from elsewhere is estimated "
        "as the largest (s(t) - v(t)) / (1 - v(t)), s and v the shares of test and valid rows scoring t or more, over the t "
        f"that leave at least {MIN_BELOW:.0%} of valid below: {share:.1%} = **{count:,} of {len(order):,} test rows** (at t "
        f"= {threshold:.3f}; the data README says about 3.3k). The {count:,} highest-scoring test rows (P(test) >= "
        f"{cutoff:.3f}) are tagged call-centre-like: a tag, not a truth (the rows scoring that high include "
        f"{columns[VALID]['call_centre']:.1%} of valid's rows). The other sets' share in the first table is the share of "
        "their rows scoring as high (out of fold for valid; for valid + ASR noise the fold model that did not see the "
        "original row; for train the model fitted on all rows).",
        "",
        "Most test-like rows: " + " / ".join(written[TEST][i] for i in order[:TOP]),
        "",
        "Tagged rows from the middle of the tagged range: " + " / ".join(written[TEST][i] for i in order[count // 2: count // 2 + 8]),
        "",
        "## Which part of the noise does what",
        "",
        f"Valid written with the kit's noise at several rates (`--rates`), and with each part of it alone at the default "
        f"rate {sets.rate:g}: dictionary slips (whole words from the slip dictionary), learned endings (e.g. -шь -> -ш), "
        "merges (a word glued to its neighbour). Same generator and seed as notebook 03; the valid row is rate 0."
        + (" AUC: test vs that set, read, as above." if sweep_auc else " (`--sweep-auc` adds each set's adversarial AUC: slower.)"),
        "",
        "| set | " + " | ".join(MEASURES[key][0] for key in shown_sweep) + (" | AUC vs test, read |" if sweep_auc else " |"),
        "|---|" + "---:|" * (len(shown_sweep) + sweep_auc),
        *reference_rows,
        *sweep,
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="the competition files (default: ../shared/data/cryptonite when present)")
    parser.add_argument("--out", default="benchmarks/valid_test_gap.md", help="the markdown file written")
    parser.add_argument("--rates", type=float, nargs="+", default=[0.02, 0.05, 0.1, 0.15], help="noise rates swept")
    parser.add_argument("--sweep-auc", action="store_true", help="also the adversarial AUC of every swept noise variant")
    args = parser.parse_args(argv)
    from utils.run.benchmark import default_data_dir, shown_path

    data_dir = Path(args.data_dir) if args.data_dir else default_data_dir()
    command = "python benchmarks/valid_test_gap.py " + " ".join(map(shlex.quote, sys.argv[1:] if argv is None else argv))
    body = run(data_dir, args.rates, args.sweep_auc)
    report = f"# The gap between valid and the test\n\nWritten by `{command.strip()}` (data: `{shown_path(data_dir)}`).\n\n{body}\n"
    print(report)
    print(f"wrote {write_text(args.out, report)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
