"""The measures of benchmarks/valid_test_gap.py on hand-made inputs with known answers (not the script on the real data)."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from utils.core.settings import RunConfig
from utils.core.splits import TEXT, read_split
from utils.core.text import load_slips
from utils.expansion.augment import learn_slip_patterns
from utils.training.notebook import TrainingData, noisy_valid_texts

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("valid_test_gap", ROOT / "benchmarks" / "valid_test_gap.py")
gap = sys.modules.setdefault("valid_test_gap", importlib.util.module_from_spec(_spec))  # dataclasses look their module up
_spec.loader.exec_module(gap)


def test_length_stats_count_words_and_characters():
    stats = gap.length_stats(["a bb", "c", "dd ee ff"])  # 4, 1 and 8 characters
    assert stats == {"words_mean": 2.0, "words_median": 2.0, "chars_mean": pytest.approx(13 / 3), "chars_median": 4.0}


def test_token_share_counts_tokens_over_all_texts():
    assert gap.token_share(["че ты", "это че да"], lambda token: token == "че") == pytest.approx(2 / 5)
    assert gap.token_share([], lambda token: True) == 0


def test_merged_share_counts_unknown_tokens_made_of_two_known_words():
    parts = {"не", "знаю", "что", "это", "я"}
    known = parts | {"незнакомец"}
    # незнаю = не + знаю (merged); незнакомец is a known word; чтоэто = что + это; абв is unknown but not two words
    assert gap.splits_in_two("незнаю", parts) and not gap.splits_in_two("абв", parts)
    assert gap.merged_share(["я незнаю", "незнакомец чтоэто абв"], known, parts) == pytest.approx(2 / 5)


def test_fragment_share_counts_both_halves_of_a_split_word():
    parts = {"полностью", "я", "согласен"}
    # 'пол ностью': ностью is unknown and the pair written together is a word; 'я согласен' are two known words
    assert gap.fragment_share(["я пол ностью согласен"], parts | {"пол"}, parts) == pytest.approx(2 / 4)
    assert gap.fragment_share(["я согласен"], parts, parts) == 0


def test_ngram_overlap_is_the_share_of_occurrences_seen():
    seen = set(gap.ngrams(["я", "не", "знаю"], 2))
    assert gap.ngrams(["a", "b", "c"], 2) == [("a", "b"), ("b", "c")]
    # 2-grams of the texts: (я не) (не знаю) (знаю что) | (я не) -> 3 of 4 seen
    assert gap.ngram_overlap(["я не знаю что", "я не"], seen, 2) == pytest.approx(3 / 4)
    assert gap.ngram_overlap(["одно"], seen, 2) == 0  # no 2-gram at all


def test_mixture_share_finds_the_share_that_scores_unlike_the_reference():
    reference = np.linspace(0, 0.6, 1000)  # scores of the reference (valid-like) rows
    like_reference = np.linspace(0, 0.6, 600)  # 60% of the mixture scores as the reference does
    elsewhere = np.linspace(0.8, 1.0, 400)  # 40% come from elsewhere and score above every reference row
    share, threshold = gap.mixture_share(np.r_[like_reference, elsewhere], reference)
    assert share == pytest.approx(0.4, abs=0.01)
    assert threshold in np.r_[like_reference, elsewhere]
    assert gap.mixture_share(reference, reference)[0] == pytest.approx(0, abs=0.01)


def test_mixture_share_ignores_the_far_lower_tail_of_the_reference():
    reference = np.r_[0.0, np.full(99, 0.5)]  # one reference row below every mixture score
    share, _ = gap.mixture_share(np.full(50, 0.5), reference)
    assert share == 0  # without the guard, t = 0.5 would give (1 - 0.99) / 0.01 = 100%
    assert gap.mixture_share(np.full(50, 0.5), reference, min_below=0.01)[0] == pytest.approx(1)


@pytest.mark.parametrize(("test", "clean", "noisy", "expected"), [
    (7.4, 7.8, 10.6, "away"),
    (0.18, 0.0, 1.13, "away (past it)"),
    (10.6, 11.8, 11.6, "toward"),
    (10.6, 11.8, 10.0, "toward (past it)"),
    (39.0, 10.9, 10.7, "no change"),  # the distance changes by under 5%
    (1.0, 1.0, 1.0, "no change"),
])
def test_direction_says_whether_the_noise_moves_valid_toward_the_test(test, clean, noisy, expected):
    assert gap.direction(test, clean, noisy) == expected


def test_noisy_texts_are_the_kit_held_out_rows_with_asr_noise():
    config = RunConfig()
    valid = read_split(ROOT / "data" / "sample" / "valid.csv")
    patterns = learn_slip_patterns(load_slips(config.text.slips_file))
    ours = gap.noisy_texts(valid[TEXT].tolist(), patterns, config.expansion.augment.asr_slip_rate, config.seed)
    assert ours == noisy_valid_texts(config, TrainingData(valid, valid, [], Path("train.csv")))


def test_noise_variants_keep_only_their_part():
    patterns = learn_slip_patterns(load_slips(None))
    variants = gap.noise_variants(patterns, [0.02, 0.15], 0.15)
    assert variants["all parts, rate 0.02"] == (patterns, 0.02)
    merges, rate = variants["merges only, rate 0.15"]
    assert rate == 0.15 and not merges.word_slips and not merges.endings and merges.merge_before == patterns.merge_before
    slips, _ = variants["dictionary slips only, rate 0.15"]
    assert slips.word_slips == patterns.word_slips and not slips.endings and not slips.merge_before and not slips.merge_after
    text = "я не знаю что это"
    assert gap.noisy_texts([text], merges, 1.0, 0)[0] == "я незнаю чтоэто"  # every word drawn: 'не', 'что' glue to the next
    assert len(gap.noisy_texts([text], slips, 1.0, 0)[0].split()) == 5  # no merges: still five words
