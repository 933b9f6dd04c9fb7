from utils.core.navec import load_navec, oov_rate


def test_navec_loads_offline_with_russian_words():
    navec = load_navec()
    assert len(navec.vocab.words) > 200_000
    assert navec["радость"].shape == (300,)
    assert "радость" in navec and "ыетс" not in navec


def test_oov_rate_counts_tokens():
    assert oov_rate(["мама мыла ыетс", "раму"], {"мама", "мыла", "раму"}) == 0.25
    assert oov_rate([], {"а"}) == 0.0
