import pytest

from utils.core.settings import TextConfig
from utils.core.text import (
    asr_style,
    demojize_ru,
    fix_slips,
    fold_yo,
    load_slips,
    make_preprocessor,
    preprocess_texts,
    read_slips,
)


def test_demojize_gives_russian_words_between_spaces():
    assert demojize_ru("Отлично👍") == "Отлично большой палец вверх"
    assert demojize_ru("ахах 😂😂") == "ахах смеется до слез смеется до слез"
    assert demojize_ru("без эмодзи") == "без эмодзи"


def test_demojize_skips_texts_without_emoji_but_keeps_emojis_own_edge_cases():
    assert demojize_ru("счёт 1️⃣ : 0") == "счёт клавиши 1 : 0"  # keycaps start with a digit
    assert demojize_ru("ЕСТЬ СЕБЯ \ufe0f") == "ЕСТЬ СЕБЯ"  # a stray variation selector is dropped, as emoji.demojize does
    assert demojize_ru("а\u200dб") == "а\u200dб"  # a joiner between letters is kept, as emoji.demojize does
    assert demojize_ru("  просто   текст  ") == "просто текст"


def test_asr_style_matches_the_test_text():
    assert asr_style("Привет, [ИМЯ]! Кто-нибудь… видел ЭТО?!") == "привет имя кто нибудь видел это"
    assert asr_style("[NAME] и [имя]:  8 раундов_по «темам»") == "имя и имя 8 раундов по темам"


def test_fold_yo():
    assert fold_yo("Ёжик всё ещё") == "Ежик все еще"


def test_slip_dictionary_is_data_and_fixes_word_by_word():
    slips = load_slips()
    assert slips["ыетс"] == "это" and slips["ужеж"] == "уже"
    assert fix_slips("ну ыетс ужеж понятно", slips) == "ну это уже понятно"
    assert fix_slips("Ыетс, ужеж!", slips) == "это, уже!"
    assert fix_slips("этот текст не трогаем", slips) == "этот текст не трогаем"


def test_slip_dictionary_is_extended_by_a_user_file(write_file):
    extra = write_file("mine.csv", "slip,fix\nкороч,короче\nыетс,это самое\n")
    slips = load_slips(str(extra))
    assert slips["короч"] == "короче" and slips["ыетс"] == "это самое"
    assert load_slips()["ыетс"] == "это"


def test_bad_slip_file_names_line(write_file):
    with pytest.raises(ValueError, match=r"mine\.csv, line 3: expected a one-word slip"):
        read_slips(write_file("mine.csv", "slip,fix\nкороч,короче\nдва слова,x\n"))
    with pytest.raises(ValueError, match=r"mine\.csv, header row: expected columns slip,fix"):
        read_slips(write_file("mine.csv", "wrong,cols\nа,б\n"))


def test_preprocessor_composes_the_enabled_steps():
    text = "Ыетс [ИМЯ] 😱! Всё."
    assert make_preprocessor(TextConfig())(text) == "это имя в ужасе все"
    raw = TextConfig(demojize=False, asr_style=False, yo_to_e=False, fix_slips=False)
    assert make_preprocessor(raw)(text) == "Ыетс [ИМЯ] 😱! Всё."
    assert preprocess_texts(["Ёлка!", "УРА"], TextConfig()) == ["елка", "ура"]
