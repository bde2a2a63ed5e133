"""WordPiece tokenizer trained on the caption corpus, and the FORMAT.md text path (truncate right, pad)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import numpy as np
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]
PAD_ID = 0
PUNCTUATION = ".,!?;:'\"-()"
ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789" + PUNCTUATION


def _pipeline(tok: Tokenizer) -> Tokenizer:
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    return tok


def build_vocab(corpus: Iterable[str], vocab_size: int = 256) -> dict[str, int]:
    """Specials, single characters (plain and `##` continuation), then corpus words by count.

    Counted here rather than with tokenizers' WordPieceTrainer, whose id order changes from run to run (hash
    map order), which made training non-reproducible. Unknown words fall back to characters, not [UNK].
    """
    probe = _pipeline(Tokenizer(models.WordPiece({"[UNK]": 0}, unk_token="[UNK]")))
    assert probe.normalizer is not None and probe.pre_tokenizer is not None
    counts: Counter[str] = Counter()
    for text in corpus:
        normalized = probe.normalizer.normalize_str(text)
        counts.update(word for word, _ in probe.pre_tokenizer.pre_tokenize_str(normalized))
    chars = sorted(set(ALPHABET) | {c for w in counts for c in w})
    tokens = SPECIAL_TOKENS + chars + ["##" + c for c in chars if c not in PUNCTUATION]
    words = [w for w, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if len(w) > 1]
    tokens += words[: max(0, vocab_size - len(tokens))]
    return {t: i for i, t in enumerate(tokens)}


def train_tokenizer(corpus: Iterable[str], vocab_size: int = 256) -> Tokenizer:
    """Padding and truncation stay off in the saved tokenizer.json: `encode_ids` does them, as the service does."""
    tok = _pipeline(Tokenizer(models.WordPiece(build_vocab(corpus, vocab_size), unk_token="[UNK]")))
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
