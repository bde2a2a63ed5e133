import json

import numpy as np
from tokenizers import Tokenizer

from edgeclip_train import data
from edgeclip_train.tokenizer import PAD_ID, encode_ids, fit_length, train_tokenizer


def test_specials_and_template(tokenizer: Tokenizer) -> None:
    assert [tokenizer.token_to_id(t) for t in ("[PAD]", "[UNK]", "[CLS]", "[SEP]")] == [0, 1, 2, 3]
    ids = tokenizer.encode("A Red Circle").ids
    assert ids[0] == 2 and ids[-1] == 3 and len(ids) == 5  # lowercased, one token per caption word


def test_saved_json_has_padding_and_truncation_off(tokenizer: Tokenizer) -> None:
    cfg = json.loads(tokenizer.to_str())
    assert cfg["padding"] is None and cfg["truncation"] is None
    assert cfg["model"]["type"] == "WordPiece"


def test_pad_to_context_length(tokenizer: Tokenizer) -> None:
    ids = encode_ids(tokenizer, ["a red circle"], 16)
    assert ids.shape == (1, 16) and ids.dtype == np.int64
    assert ids[0, :5].tolist() == tokenizer.encode("a red circle").ids
    assert (ids[0, 5:] == PAD_ID).all()


def test_truncate_right(tokenizer: Tokenizer) -> None:
    text = " ".join(["a big red circle on the left"] * 5)
    full = tokenizer.encode(text).ids
    assert len(full) > 16
    assert encode_ids(tokenizer, [text], 16)[0].tolist() == full[:16]  # [SEP] is cut off too, as FORMAT.md says
    assert fit_length([2, 9, 3], 2) == [2, 9]
    assert fit_length([2, 3], 4, pad_id=0) == [2, 3, 0, 0]


def test_training_is_deterministic_and_keeps_caption_words_whole() -> None:
    samples = data.generate(300, 0, data.train_combos())
    corpus = data.captions(samples, 1)
    a, b = train_tokenizer(corpus), train_tokenizer(list(reversed(corpus)) + corpus)
    assert a.to_str() == b.to_str()  # same words and counts order -> same ids, run after run
    for caption in corpus[:50]:
        assert a.encode(caption).tokens[1:-1] == caption.replace(".", " .").split()
    assert "[UNK]" not in a.encode("A zebra, 42!").tokens  # unseen words fall back to characters
