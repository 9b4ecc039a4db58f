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
  /**
   * Building the tokenizer, rendering the chat template and tokenizing one prompt, in the CLI's worker (a Qwen
   * tokenizer of 151 k tokens builds in about a second; the budget leaves room for a loaded machine).
   */
  templateTimeoutMs: 30_000,
  /** Heap of that worker: a rendered prompt is a few KB, the tokenizer's tables a few hundred MB at most. */
  templateMemoryMb: 1024,
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

/** What a vision_config may declare (the largest Qwen-VL towers: 32 blocks, patch 14 / 16, merge 2). */
export const VISION_LIMITS = {
  depth: 256,
  num_heads: 1024,
  hidden_size: 65_536,
  embed_dim: 65_536,
  out_hidden_size: 65_536,
  intermediate_size: 1_048_576,
  patch_size: 1024,
  spatial_merge_size: 64,
  temporal_patch_size: 64,
  in_channels: 16,
  num_position_embeddings: 1_048_576,
} as const;

/** What a preprocessor_config.json may declare: the processor's geometry, pixels within what an image may have. */
export const PROCESSOR_LIMITS = {
  patch_size: 1024,
  merge_size: 64,
  temporal_patch_size: 64,
  min_pixels: 64 * 1024 * 1024,
  max_pixels: 64 * 1024 * 1024,
} as const;

/**
 * External-data chunks a graph may declare (transformers.js_config.use_external_data_format): transformers.js asks for
 * <graph>.onnx_data, _1, _2, … one per count; at its 2 GB per chunk, 64 chunks are a 128 GB graph.
 */
export const EXTERNAL_DATA_LIMITS = { maxChunks: 64, maxEntries: 64 } as const;

/** Keys JSON.parse keeps as own properties that JavaScript code would read as an object's prototype machinery. */
const PROTOTYPE_KEYS = ['__proto__', 'constructor', 'prototype'];

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

/** Local files and inputs the CLI reads (images, input files, sets), and the boxes of a case. */
export const INPUT_LIMITS = {
  /** Bytes of one image file (a 16,384 × 16,384 PNG of real content is far below). */
  maxImageBytes: 64 * 1024 * 1024,
  /** Pixels of one image, read from its header before decoding (the session's cap: 64 M pixels, 256 MB as RGBA). */
  maxImagePixels: SESSION_LIMITS.maxImagePixels,
  /** Bytes of a `sayo reward` input or an eval set (JSON / JSONL). */
  maxInputBytes: 256 * 1024 * 1024,
  /** Boxes of one case (`sayo reward`, `--boxes`, an eval record): the session's cap. */
  maxBoxes: SESSION_LIMITS.maxBoxes,
  /** Generated tokens and heads of a `sayo reward` case: the session's caps. */
  maxSteps: SESSION_LIMITS.maxSteps,
  maxHeads: SESSION_LIMITS.maxHeads,
} as const;

/**
 * Upper bounds of a job spec's numbers by key path, applied by both job spec readers (lab/jobspec/jobspec.ts and
 * training/sayo_train/spec.py, whose limits.py holds the same table): model sizes within CONFIG_LIMITS / VISION_LIMITS
 * (nothing larger loads here), seeds within what numpy and torch accept, counts far above any planned run.
 */
export const SPEC_LIMITS = {
  'run.seed': 4_294_967_295,
  'run.threads': 1024,
  'model.text.hidden_size': 65_536,
  'model.text.num_layers': 512,
  'model.text.num_heads': 1024,
  'model.text.num_kv_heads': 1024,
  'model.text.head_dim': 4096,
  'model.text.intermediate_size': 1_048_576,
  'model.vision.embed_dim': 65_536,
  'model.vision.depth': 256,
  'model.vision.num_heads': 1024,
  'model.vision.patch_size': 1024,
  'model.vision.temporal_patch_size': 64,
  'model.vision.merge_size': 64,
  'model.vision.mlp_ratio': 64,
  'model.image.min_pixels': 67_108_864,
  'model.image.max_pixels': 67_108_864,
  'model.lora.r': 65_536,
  'data.generator.train_size': 100_000_000,
  'data.generator.heldout_size': 100_000_000,
  'data.max_response_tokens': 1_048_576,
  'sft.epochs': 100_000,
  'sft.batch_size': 1_048_576,
  'grpo.steps': 10_000_000,
  'grpo.epochs': 100_000,
  'grpo.prompts_per_step': 1_048_576,
  'grpo.group_size': 1024,
  'report.max_new_tokens': 1_048_576,
} as const;

/** Nesting of a job spec (its deepest shipped key is 5 levels down). */
export const MAX_SPEC_DEPTH = 32;

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
function configInt(
  config: Record<string, unknown>,
  prefix: string,
  key: keyof typeof CONFIG_LIMITS,
): number | undefined {
  const v = config[key];
  if (v === undefined || v === null) return undefined;
  const max = CONFIG_LIMITS[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > max) {
    const got = typeof v === 'number' ? String(v) : (JSON.stringify(v)?.slice(0, 40) ?? typeof v);
    throw new LimitError(
      `config.json ${prefix}${key}`,
      `${got} is not plausible (accepted: an integer from 1 to ${max.toLocaleString('en')})`,
    );
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
  for (const sub of ['text_config', 'vision_config', 'transformers.js_config']) {
    const v = (config as Record<string, unknown>)[sub];
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) parts.push([`${sub}.`, v as Record<string, unknown>]);
  }
  for (const [prefix, c] of parts) {
    const bad = Object.keys(c).find((k) => PROTOTYPE_KEYS.includes(k));
    if (bad !== undefined)
      throw new LimitError(
        `config.json ${prefix}${bad}`,
        "is not a config field (refused: JavaScript reads it as the object's prototype)",
      );
  }
  checkExternalData((config as Record<string, unknown>)['transformers.js_config']);
  for (const [prefix, c] of parts) {
    if (prefix === 'transformers.js_config.') continue;
    if (prefix === 'vision_config.') {
      for (const key of Object.keys(VISION_LIMITS) as Array<keyof typeof VISION_LIMITS>)
        boundedInt(c, `config.json ${prefix}${key}`, c[key], VISION_LIMITS[key]);
    }
    for (const key of Object.keys(CONFIG_LIMITS) as Array<keyof typeof CONFIG_LIMITS>) configInt(c, prefix, key);
    const heads = configInt(c, prefix, 'num_attention_heads');
    const kv = configInt(c, prefix, 'num_key_value_heads');
    if (heads !== undefined && kv !== undefined && (kv > heads || heads % kv !== 0)) {
      throw new LimitError(
        `config.json ${prefix}num_key_value_heads`,
        `${kv} does not divide num_attention_heads ${heads}`,
      );
    }
  }
  // The families read each text field from the top level, else from text_config, so the pair they use may come
  // from two places (a stray top-level num_key_value_heads beside Qwen3-VL's text_config): check that pair too.
  const [top, text] = [parts[0][1], parts.find(([p]) => p === 'text_config.')?.[1] ?? {}];
  const pick = (key: 'num_attention_heads' | 'num_key_value_heads'): [string, number | undefined] =>
    top[key] !== undefined && top[key] !== null
      ? [key, top[key] as number]
      : [`text_config.${key}`, text[key] as number | undefined];
  const [[, heads], [kvField, kv]] = [pick('num_attention_heads'), pick('num_key_value_heads')];
  if (heads !== undefined && kv !== undefined && (kv > heads || heads % kv !== 0)) {
    throw new LimitError(`config.json ${kvField}`, `${kv} does not divide num_attention_heads ${heads}`);
  }
}

/** An integer within [1, max] when present. */
function boundedInt(_c: Record<string, unknown>, field: string, v: unknown, max: number): void {
  if (v === undefined || v === null) return;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > max) {
    const got = typeof v === 'number' ? String(v) : (JSON.stringify(v)?.slice(0, 40) ?? typeof v);
    throw new LimitError(field, `${got} is not plausible (accepted: an integer from 1 to ${max.toLocaleString('en')})`);
  }
}

/** transformers.js_config.use_external_data_format: a boolean, a chunk count, or such a value per graph file. */
function checkExternalData(tjs: unknown): void {
  if (typeof tjs !== 'object' || tjs === null) return;
  const v = (tjs as Record<string, unknown>).use_external_data_format;
  const field = 'config.json transformers.js_config.use_external_data_format';
  const one = (x: unknown, f: string) => {
    if (x === undefined || x === null || typeof x === 'boolean') return;
    if (typeof x !== 'number' || !Number.isInteger(x) || x < 0 || x > EXTERNAL_DATA_LIMITS.maxChunks) {
      throw new LimitError(
        f,
        `${typeof x === 'number' ? x : JSON.stringify(x)?.slice(0, 40)} is not plausible (accepted: true, false or a chunk count from 0 to ${EXTERNAL_DATA_LIMITS.maxChunks})`,
      );
    }
  };
  if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
    const entries = Object.entries(v as Record<string, unknown>);
    if (entries.length > EXTERNAL_DATA_LIMITS.maxEntries)
      throw new LimitError(field, `${entries.length} graphs, more than ${EXTERNAL_DATA_LIMITS.maxEntries}`);
    for (const [k, x] of entries) {
      if (PROTOTYPE_KEYS.includes(k)) throw new LimitError(`${field}.${k}`, 'is not a graph file name');
      one(x, `${field}["${k.slice(0, 60)}"]`);
    }
  } else one(v, field);
}

/**
 * Checks the geometry a preprocessor_config.json declares before an image is resized or patched with it: every size
 * an integer in its range, min_pixels ≤ max_pixels (also in `size` {shortest_edge, longest_edge}).
 * @throws LimitError naming the field
 */
export function checkProcessorPlausible(pre: unknown): void {
  if (typeof pre !== 'object' || pre === null || Array.isArray(pre))
    throw new LimitError('preprocessor_config.json', 'expected a JSON object');
  const p = pre as Record<string, unknown>;
  const bad = Object.keys(p).find((k) => PROTOTYPE_KEYS.includes(k));
  if (bad !== undefined) throw new LimitError(`preprocessor_config.json ${bad}`, 'is not a processor field');
  for (const key of Object.keys(PROCESSOR_LIMITS) as Array<keyof typeof PROCESSOR_LIMITS>) {
    boundedInt(p, `preprocessor_config.json ${key}`, p[key], PROCESSOR_LIMITS[key]);
  }
  const size = p.size;
  if (typeof size === 'object' && size !== null) {
    const s = size as Record<string, unknown>;
    boundedInt(s, 'preprocessor_config.json size.shortest_edge', s.shortest_edge, PROCESSOR_LIMITS.min_pixels);
    boundedInt(s, 'preprocessor_config.json size.longest_edge', s.longest_edge, PROCESSOR_LIMITS.max_pixels);
  }
  const min = p.min_pixels as number | undefined;
  const max = p.max_pixels as number | undefined;
  if (typeof min === 'number' && typeof max === 'number' && min > max) {
    throw new LimitError('preprocessor_config.json min_pixels', `${min} exceeds max_pixels ${max}`);
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
