"""WordPiece tokenizer trained on the caption corpus, and the FORMAT.md text path (truncate right, pad)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]
PAD_ID = 0


def train_tokenizer(corpus: Iterable[str], vocab_size: int = 256) -> Tokenizer:
    """Padding and truncation stay off in the saved tokenizer.json: `encode_ids` does them, as the service does."""
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS, show_progress=False)
    tok.train_from_iterator(corpus, trainer=trainer)
    for i, t in enumerate(SPECIAL_TOKENS):
        if tok.token_to_id(t) != i:
            raise RuntimeError(f"special token {t} got id {tok.token_to_id(t)}, expected {i}")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    tok.no_padding()
    tok.no_truncation()
    return tok


def fit_length(ids: list[int], context_length: int, pad_id: int = PAD_ID) -> list[int]:
    """Keep the first `context_length` ids, then pad with `pad_id` (FORMAT.md text path, steps 2-3)."""
    ids = ids[:context_length]
    return ids + [pad_id] * (context_length - len(ids))


def encode_ids(tok: Tokenizer, texts: list[str], context_length: int, pad_id: int = PAD_ID) -> np.ndarray:
    encs = tok.encode_batch(texts)
    return np.asarray([fit_length(e.ids, context_length, pad_id) for e in encs], dtype=np.int64)
