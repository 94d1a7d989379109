"""Long texts read whole, as overlapping windows (the packaged all-MiniLM-L6-v2)."""

import numpy as np
import pytest

from sktransfer import FineTuneClassifier, SentenceEncoder
from sktransfer.backbones import windows

pytest.importorskip("sentence_transformers")

CAT = "The cat sleeps on the warm windowsill and purrs at the birds outside. "
CATS = CAT * 40
MARKETS = "Stock markets fell sharply as investors sold shares and bonds. " * 40


@pytest.fixture(scope="module")
def minilm():
    return SentenceEncoder(device="cpu").fit().model_


def test_windows_cover_every_token_once_with_the_documented_overlap(minilm):
    text = CATS + MARKETS
    rows, text_index = windows.windows(minilm, ["A short one.", text])
    tokenizer, size = minilm.tokenizer, minilm.max_seq_length
    assert text_index[0] == 0 and set(text_index[1:]) == {1}
    tokens = tokenizer(text, add_special_tokens=False)["input_ids"]
    content = [row["input_ids"][1:-1] for row in rows[1:]]  # [CLS] ... [SEP]
    shared = windows.overlap(size)
    assert shared == 32
    rebuilt = content[0] + [t for window in content[1:] for t in window[shared:]]
    assert rebuilt == tokens  # every token, in order, none left out or repeated
    for before, after in zip(content, content[1:]):
        assert before[-shared:] == after[:shared]
    assert all(len(row["input_ids"]) <= size for row in rows)
    assert len(content) == 1 + -(-(len(tokens) - (size - 2)) // (size - 2 - shared))


def test_a_text_that_fits_in_one_window_gets_the_same_embedding(minilm):
    texts = ["A cat sits on the mat.", "Markets fell today.", ""]
    truncated = SentenceEncoder(device="cpu").fit().transform(texts)
    whole = SentenceEncoder(device="cpu", long_texts="windows").fit().transform(texts)
    np.testing.assert_allclose(whole, truncated, atol=1e-5)


def test_a_long_text_is_read_to_its_end():
    text = CAT * 16 + MARKETS  # the first 256 tokens are all cats, then 500 of markets
    topics = ["A cat purrs on the windowsill.", "Stock markets fell sharply."]
    for long_texts, closer in (("truncate", 0), ("windows", 1)):
        encoder = SentenceEncoder(device="cpu", normalize=True, long_texts=long_texts).fit()
        document, cats, markets = encoder.transform([text, *topics])
        assert (document @ markets > document @ cats) == bool(closer), long_texts


def test_windows_are_cached_apart_from_truncated_texts(tmp_path):
    text = CATS + MARKETS
    truncated = SentenceEncoder(device="cpu", cache=tmp_path).fit().transform([text])
    whole = SentenceEncoder(device="cpu", cache=tmp_path, long_texts="windows").fit()
    again = whole.transform([text])
    assert not np.allclose(again, truncated, atol=1e-3)
    np.testing.assert_allclose(whole.transform([text]), again)


def test_windows_refuse_a_prompt():
    with pytest.raises(ValueError, match="prompt and long_texts='windows'"):
        SentenceEncoder(prompt="query: ", long_texts="windows").fit()


@pytest.mark.slow
def test_the_fine_tuner_reads_long_texts_whole():
    # The topic is told only after the first window: truncated, every text looks alike.
    texts = [CATS + f"{word} " * 20 + MARKETS * (i % 2) for i, word in enumerate("abcdefgh")]
    labels = ["cats", "markets"] * 4
    params = dict(freeze="backbone", validation=None, max_epochs=3, device="cpu", random_state=0)
    whole = FineTuneClassifier("all-MiniLM-L6-v2", long_texts="windows", **params)
    assert whole.fit(texts, labels).score(texts, labels) == 1.0
    with pytest.raises(ValueError, match="long_texts is for text backbones"):
        FineTuneClassifier(long_texts="windows", validation=None, device="cpu").fit(
            np.zeros((4, 8, 8, 3), np.uint8), [0, 1, 0, 1]
        )
