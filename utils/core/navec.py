"""The offline Russian word vectors: navec (250k words x 300) shipped inside the natasha wheel."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

NAVEC_FILE = "data/emb/navec_news_v1_1B_250K_300d_100q.tar"


def navec_path() -> Path:
    """Where the natasha package keeps the navec archive; a clear error if natasha is missing."""
    try:
        import natasha
    except ImportError as error:
        raise ImportError("the offline word vectors need the natasha package: pip install natasha==1.6.0") from error
    return Path(natasha.__file__).resolve().parent / NAVEC_FILE


@lru_cache(maxsize=1)
def load_navec():
    """Load navec once per process (about 0.5 s)."""
    from navec import Navec

    return Navec.load(str(navec_path()))


def oov_rate(texts, vocabulary) -> float:
    """Share of whitespace tokens of `texts` that are not in `vocabulary` (anything supporting `in`)."""
    tokens = [token for text in texts for token in text.split()]
    return sum(token not in vocabulary for token in tokens) / max(len(tokens), 1)
