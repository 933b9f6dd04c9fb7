"""Words of new texts that navec knows are looked up at prediction time, as if they had been in the run's vocabulary."""
import numpy as np
from tiny_models import tiny_navec_config

from utils.core.settings import TextConfig
from utils.training.model import build_model
from utils.training.prediction import predict_probs

SEEN = ["мне очень страшно", "какая радость", "это ужасно и мерзко"]
NEW = "кошка испугалась грозы"  # words the vocabulary above lacks, all of them in navec


def test_new_words_known_to_navec_get_their_vectors_at_prediction():
    small = build_model(tiny_navec_config(), SEEN, TextConfig()).eval()
    full = build_model(tiny_navec_config(), [*SEEN, NEW], TextConfig()).eval()
    full.load_state_dict(small.state_dict())  # the same weights; only the word lists differ (vectors are navec's, not saved)
    assert all(word not in small.backbone.tokenizer.word_ids for word in NEW.split())
    blind = small.dataset([NEW]).features[0]["input_ids"]
    assert set(blind) == {small.backbone.tokenizer.UNK}, "before: every word is unknown"
    expected = predict_probs(full, [NEW, SEEN[0]])
    assert np.allclose(predict_probs(small, [NEW, SEEN[0]]), expected, atol=1e-6)
    assert all(word in small.backbone.tokenizer.word_ids for word in NEW.split())
    fold_a, fold_b = (build_model(tiny_navec_config(), SEEN, TextConfig()).eval() for _ in range(2))
    fold_b.backbone.tokenizer = fold_a.backbone.tokenizer  # fold models share one word list, as load_models arranges
    both = predict_probs([fold_a, fold_b], [NEW])
    assert np.allclose(both, (predict_probs(fold_a, [NEW]) + predict_probs(fold_b, [NEW])) / 2, atol=1e-6)


def test_a_fold_model_used_alone_keeps_its_siblings_usable():
    fold_a, fold_b = (build_model(tiny_navec_config(), SEEN, TextConfig()).eval() for _ in range(2))
    fold_b.backbone.tokenizer = fold_a.backbone.tokenizer
    alone = predict_probs(fold_a, [NEW])  # grows the shared word list through fold_a only
    assert np.allclose(predict_probs(fold_b, [NEW, SEEN[1]])[:1], predict_probs(fold_b, [NEW]), atol=1e-6)
    assert alone.shape == (1, 7)
