// Text -> input_ids exactly as models/FORMAT.md says: the package's tokenizer.json (with its own
// normalizer, pre-tokenizer and post-processor), then truncation ('right', or 'right_keep_eos' for CLIP
// towers that pool at the end token) and padding to the context length.
import { Tokenizer } from '@huggingface/tokenizers';
import type { TextPreprocessConfig } from '../registry/manifest';

export class TextTokenizer {
  private readonly tokenizer: Tokenizer;

  constructor(
    tokenizerJson: unknown,
    // truncation: a manifest's value (validated by its schema); absent means 'right'.
    private readonly config: Pick<TextPreprocessConfig, 'context_length' | 'pad_id'> & { truncation?: string },
  ) {
    // The second argument is tokenizer_config.json; our packages carry everything in tokenizer.json.
    this.tokenizer = new Tokenizer(tokenizerJson as object, {});
  }

  /** Token ids of one text, truncated and padded to the context length. */
  ids(text: string): number[] {
    const { context_length: length, pad_id: pad, truncation = 'right' } = this.config;
    const all = this.tokenizer.encode(text).ids;
    // right_keep_eos: open_clip keeps the end token last, since its text towers pool at that position.
    const ids = all.length > length && truncation === 'right_keep_eos' ? [...all.slice(0, length - 1), all[all.length - 1]!] : all.slice(0, length);
    while (ids.length < length) ids.push(pad);
    return ids;
  }

  /** A [texts.length, context_length] int64 batch, row-major, ready for the text tower. */
  batch(texts: readonly string[]): BigInt64Array {
    const length = this.config.context_length;
    const out = new BigInt64Array(texts.length * length);
    texts.forEach((text, row) => {
      this.ids(text).forEach((id, col) => (out[row * length + col] = BigInt(id)));
    });
    return out;
  }
}
