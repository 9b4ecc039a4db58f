/**
 * @file Every plausibility limit of SAYO Lens in one place (pure, no DOM, no Node): what a session file may hold,
 * how long a question may be, what a model config may declare, and how long and how large a download may get.
 * models/CONTRACT.md ("Limits") documents the same numbers; session import, IndexedDB keeping, the engine's prompt
 * and config checks, `sayo inspect` and the model-URL fetches all read them from here.
 */

/** What a session (file or IndexedDB record) may hold. Sized well above anything a real run produces. */
export const SESSION_LIMITS = {
  /** Characters of session JSON (a 50-token, 2-layer, 1,300-cell session is about 2.8 MB). */
  maxChars: 256 * 1024 * 1024,
  /** Panels (base, trained and the two cross-scored ones). */
  maxPanels: 8,
  /** Generated tokens (steps) per panel. */
  maxSteps: 4096,
  /** Captured layers per step, and the largest layer id. */
  maxLayers: 256,
  maxLayerId: 1023,
  /** Attention heads per layer. */
  maxHeads: 256,
  /** Visual tokens (grid cells) of one image: Qwen's max_pixels 16384 × 28² gives 16,384. */
  maxCells: 16_384,
  /** Float32 values over all attention arrays of the session (1 GiB of floats would not fit a tab). */
  maxFloats: 64 * 1024 * 1024,
  /** Regions. */
  maxBoxes: 256,
  /** Image side and area in pixels. */
  maxImageSide: 16_384,
  maxImagePixels: 64 * 1024 * 1024,
  /** Characters of the question, names and token texts. */
  maxTextChars: 100_000,
} as const;

/** How long a question may be before tokenization; the token limit comes from the model's own context. */
export const PROMPT_LIMITS = {
  /** Characters of the question (the embedded models saw questions under 100 characters). */
  maxQuestionChars: 4000,
} as const;

/** What a model's config.json may plausibly declare (the largest Qwen2/2.5/3-VL configs are far below). */
export const CONFIG_LIMITS = {
  num_hidden_layers: 512,
  num_attention_heads: 1024,
  num_key_value_heads: 1024,
  hidden_size: 65_536,
  intermediate_size: 1_048_576,
  vocab_size: 4_194_304,
  max_position_embeddings: 16_777_216,
} as const;

/** Downloads of model files (URLs in `sayo inspect` and in the browser). */
export const DOWNLOAD_LIMITS = {
  /** From the request to the response headers. */
  connectTimeoutMs: 30_000,
  /** Longest pause between two chunks of a body. */
  idleTimeoutMs: 30_000,
  /** Bytes of one JSON file (a Qwen tokenizer.json is about 11 MB). */
  maxJsonBytes: 64 * 1024 * 1024,
  /** Bytes of one ONNX graph read whole into memory (`sayo inspect`; protobuf itself stops at 2 GiB). */
  maxGraphBytes: 2 * 1024 * 1024 * 1024,
  /** Bytes of one file of any kind streamed by the browser engine (wasm32 memory cannot hold more than 4 GiB). */
  maxFileBytes: 4 * 1024 * 1024 * 1024,
  /** Redirect hops followed (each one is reported). */
  maxRedirects: 5,
} as const;

/** A value outside its plausible range: `field` names it, the message says what is accepted. */
export class LimitError extends Error {
  constructor(
    public readonly field: string,
    reason: string,
  ) {
    super(`${field}: ${reason}`);
    this.name = 'LimitError';
  }
}

/** An integer config field within [1, max]; absent fields are fine (the family may default them). */
function configInt(config: Record<string, unknown>, prefix: string, key: keyof typeof CONFIG_LIMITS): number | undefined {
  const v = config[key];
  if (v === undefined || v === null) return undefined;
  const max = CONFIG_LIMITS[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > max) {
    const got = typeof v === 'number' ? String(v) : JSON.stringify(v)?.slice(0, 40) ?? typeof v;
    throw new LimitError(`config.json ${prefix}${key}`, `${got} is not plausible (accepted: an integer from 1 to ${max.toLocaleString('en')})`);
  }
  return v;
}

/**
 * Checks the sizes a model config declares (top level, `text_config` and `vision_config` when present) before
 * anything is allocated from them.
 * @throws LimitError naming the field and the accepted range
 */
export function checkConfigPlausible(config: unknown): void {
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw new LimitError('config.json', 'expected a JSON object');
  }
  const parts: Array<[string, Record<string, unknown>]> = [['', config as Record<string, unknown>]];
  for (const sub of ['text_config', 'vision_config']) {
    const v = (config as Record<string, unknown>)[sub];
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) parts.push([`${sub}.`, v as Record<string, unknown>]);
  }
  for (const [prefix, c] of parts) {
    for (const key of Object.keys(CONFIG_LIMITS) as Array<keyof typeof CONFIG_LIMITS>) configInt(c, prefix, key);
    const heads = configInt(c, prefix, 'num_attention_heads');
    const kv = configInt(c, prefix, 'num_key_value_heads');
    if (heads !== undefined && kv !== undefined && (kv > heads || heads % kv !== 0)) {
      throw new LimitError(`config.json ${prefix}num_key_value_heads`, `${kv} does not divide num_attention_heads ${heads}`);
    }
  }
  // The families read each text field from the top level, else from text_config, so the pair they use may come
  // from two places (a stray top-level num_key_value_heads beside Qwen3-VL's text_config): check that pair too.
  const [top, text] = [parts[0][1], parts.find(([p]) => p === 'text_config.')?.[1] ?? {}];
  const pick = (key: 'num_attention_heads' | 'num_key_value_heads'): [string, number | undefined] =>
    top[key] !== undefined && top[key] !== null ? [key, top[key] as number] : [`text_config.${key}`, text[key] as number | undefined];
  const [[, heads], [kvField, kv]] = [pick('num_attention_heads'), pick('num_key_value_heads')];
  if (heads !== undefined && kv !== undefined && (kv > heads || heads % kv !== 0)) {
    throw new LimitError(`config.json ${kvField}`, `${kv} does not divide num_attention_heads ${heads}`);
  }
}

/**
 * Checks a question against the character cap (before tokenization).
 * @throws LimitError
 */
export function checkQuestionLength(question: string): void {
  if (question.length > PROMPT_LIMITS.maxQuestionChars) {
    throw new LimitError(
      'question',
      `${question.length.toLocaleString('en')} characters is too long (accepted: at most ${PROMPT_LIMITS.maxQuestionChars.toLocaleString('en')})`,
    );
  }
}

/**
 * Checks that the prompt plus the answer budget fit the model's context (`max_position_embeddings`).
 * @throws LimitError
 */
export function checkPromptTokens(promptTokens: number, maxNewTokens: number, maxPositions: number | undefined): void {
  if (maxPositions === undefined || !Number.isFinite(maxPositions)) return;
  if (promptTokens + maxNewTokens > maxPositions) {
    throw new LimitError(
      'question',
      `the prompt is ${promptTokens} tokens and the answer may take ${maxNewTokens} more, beyond the model's context of ` +
        `${maxPositions} positions (max_position_embeddings); shorten the question, use a smaller image or fewer new tokens`,
    );
  }
}
