/**
 * @file The checks of `sayo inspect` that make a pass mean `sayo ask` runs: the chat template renders an image turn
 * with the image placeholder in transformers.js's own tokenizer and template engine, every token id fits the
 * embedding matrix, the family's special-token ids exist and agree with config.json, the processor classes are ones
 * transformers.js loads for the family, and onnxruntime loads every graph. Each failing check names the expected
 * value and the fix.
 */
import { boxFailure, boxPrompt } from './prompt-box.ts';
import { toNum, type ModelProto } from '../onnx/model.ts';
import { ortLoadError } from '../onnx/ort-check.ts';

type Json = Record<string, unknown>;

/** Writes checks of one section (see inspect-checks.ts). */
export interface SectionWriter {
  check(ok: boolean, message: string, failAs?: 'fail' | 'warn'): boolean;
  warn(message: string): void;
}

/** What an image turn must contain once rendered: where the processor puts the image's tokens. */
export const IMAGE_PLACEHOLDER = '<|vision_start|><|image_pad|><|vision_end|>';

/** The processor class transformers.js must instantiate per model_type (AutoProcessor reads processor_class). */
export const PROCESSOR_CLASS: Record<string, string> = {
  qwen2_vl: 'Qwen2VLProcessor',
  qwen2_5_vl: 'Qwen2_5_VLProcessor',
  qwen3_vl: 'Qwen3VLProcessor',
};
/** transformers.js's image processor for all three families (a "Fast" suffix is ignored, as transformers.js does). */
const IMAGE_PROCESSOR = 'Qwen2VLImageProcessor';

/** Token ids by content: tokenizer.json's model vocabulary plus added_tokens. */
export function tokenIds(tokenizer: Json): Map<string, number> {
  const ids = new Map<string, number>();
  const vocab = (tokenizer.model as Json | undefined)?.vocab;
  if (vocab && typeof vocab === 'object' && !Array.isArray(vocab)) {
    for (const [token, id] of Object.entries(vocab as Json)) if (typeof id === 'number') ids.set(token, id);
  }
  for (const t of (Array.isArray(tokenizer.added_tokens) ? tokenizer.added_tokens : []) as Json[]) {
    if (typeof t.content === 'string' && typeof t.id === 'number') ids.set(t.content, t.id);
  }
  return ids;
}

/**
 * Render one user turn with an image and a question exactly as the engine does (processor → tokenizer template), and
 * tokenize it, in the time- and memory-boxed worker `sayo ask` uses (prompt-box.ts).
 */
export async function checkChatTemplate(
  s: SectionWriter,
  tokenizer: Json,
  tokConfig: Json,
  jinja: string | null,
  imagePadId: number | undefined,
): Promise<void> {
  const fix =
    'fix: use the Qwen-VL chat template of the base checkpoint (chat_template in tokenizer_config.json or chat_template.jinja)';
  const r = await boxPrompt({ tokenizer, tokConfig, jinja, question: 'What is in the picture?', imagePadId });
  if (!r.ok) {
    if (r.stage === 'template')
      s.check(
        false,
        `chat template does not render an image turn in transformers.js (${boxFailure(r).slice(0, 200)}); ${fix}`,
      );
    else if (r.stage === 'tokenizer')
      s.check(
        false,
        `the tokenizer cannot be built in transformers.js (${boxFailure(r).slice(0, 200)}); fix: use the tokenizer.json of the base checkpoint`,
      );
    else
      s.check(
        false,
        `the rendered prompt cannot be tokenized in transformers.js (${boxFailure(r).slice(0, 200)}); fix: use the tokenizer.json of the base checkpoint (its pre-tokenizer and normalizer)`,
      );
    return;
  }
  const rendered = r.rendered;
  const placed = rendered.includes(IMAGE_PLACEHOLDER);
  const excerpt = JSON.stringify(rendered.length > 120 ? `${rendered.slice(0, 120)}…` : rendered);
  if (
    !s.check(
      placed,
      placed
        ? `chat template renders an image turn with ${IMAGE_PLACEHOLDER}`
        : `chat template renders an image turn without ${IMAGE_PLACEHOLDER} (got ${excerpt}): expected the placeholder where the image goes; ${fix}`,
    )
  )
    return;
  const pads = r.pads;
  s.check(
    pads === 1,
    `the rendered prompt tokenizes to ${pads} <|image_pad|> token(s) (id ${imagePadId ?? 'unknown'}; expected exactly 1, which the processor expands to the image's tokens)${pads === 1 ? '' : '; fix: <|image_pad|> must be one added special token of tokenizer.json'}`,
  );
}

/** Number of rows of the embedding matrix the embed_tokens graph gathers from, if it can be read. */
export function embeddingRows(model: ModelProto): number | undefined {
  const graph = model.graph;
  const inits = new Map((graph?.initializer ?? []).map((t) => [t.name ?? '', t]));
  const producer = new Map((graph?.node ?? []).flatMap((n) => (n.output ?? []).map((o) => [o, n] as const)));
  for (const node of graph?.node ?? []) {
    if (node.opType !== 'Gather' && node.opType !== 'GatherBlockQuantized') continue;
    let data = node.input?.[0] ?? '';
    for (let hop = 0; hop < 4 && !inits.has(data); hop++) {
      const p = producer.get(data);
      if (!p || !['DequantizeLinear', 'Cast', 'Identity', 'Mul'].includes(p.opType ?? '')) break;
      data = p.input?.[0] ?? '';
    }
    const t = inits.get(data);
    if (t && (t.dims ?? []).length === 2) return toNum(t.dims![0]);
  }
  return undefined;
}

/** Every token id the tokenizer can produce must index a row of the embedding matrix. */
export function checkVocabFits(
  s: SectionWriter,
  ids: Map<string, number>,
  rows: number | undefined,
  configVocab: number | undefined,
): void {
  let size = 0;
  for (const id of ids.values()) if (id + 1 > size) size = id + 1;
  if (rows === undefined) {
    s.warn(
      `tokenizer size ${size}: the embedding rows of embed_tokens could not be read (no Gather over a 2-D initializer), so ids ≤ rows is unchecked`,
    );
    return;
  }
  s.check(
    size <= rows,
    size <= rows
      ? `tokenizer size ${size} ≤ embedding rows ${rows}`
      : `tokenizer size ${size} > embedding rows ${rows}: ids ${rows}…${size - 1} would crash the embedding lookup; expected ≤ ${rows}; fix: resize the model's embeddings to the tokenizer (resize_token_embeddings) and re-export, or use the checkpoint's own tokenizer`,
  );
  if (configVocab !== undefined) {
    s.check(
      configVocab === rows,
      `config vocab_size ${configVocab} equals the embedding rows ${rows}${configVocab === rows ? '' : `; fix: set vocab_size to ${rows} in config.json`}`,
      'warn',
    );
  }
}

/** The family's special-token ids in config.json and generation_config.json: present in the tokenizer and agreeing. */
export function checkSpecialIds(s: SectionWriter, config: Json, gen: Json | undefined, ids: Map<string, number>): void {
  const text = (config.text_config && typeof config.text_config === 'object' ? config.text_config : {}) as Json;
  const field = (k: string) =>
    typeof config[k] === 'number'
      ? (config[k] as number)
      : typeof text[k] === 'number'
        ? (text[k] as number)
        : undefined;
  for (const [key, token] of [
    ['image_token_id', '<|image_pad|>'],
    ['vision_start_token_id', '<|vision_start|>'],
    ['vision_end_token_id', '<|vision_end|>'],
  ] as const) {
    const id = field(key);
    const expected = ids.get(token);
    const ok = id !== undefined && id === expected;
    s.check(
      ok,
      `${key} ${id ?? 'missing'} is the id of ${token} (${expected ?? `${token} is not in the tokenizer`})${ok ? '' : `; fix: set "${key}": ${expected ?? `<the id of ${token}>`} in config.json`}`,
    );
  }
  const byId = new Map([...ids].map(([t, id]) => [id, t]));
  const list = (v: unknown) => (Array.isArray(v) ? v : v === undefined || v === null ? [] : [v]);
  const eosSources: Array<[string, unknown[]]> = [
    ['config.json eos_token_id', list(config.eos_token_id ?? text.eos_token_id)],
  ];
  if (gen) eosSources.push(['generation_config.json eos_token_id', list(gen.eos_token_id)]);
  for (const [where, eos] of eosSources) {
    if (eos.length === 0) continue;
    const unknown = eos.filter((id) => typeof id !== 'number' || !byId.has(id));
    s.check(
      unknown.length === 0,
      `${where} ${JSON.stringify(eos.length === 1 ? eos[0] : eos)} ${unknown.length === 0 ? `= ${eos.map((id) => byId.get(id as number)).join(', ')}` : `has id(s) ${unknown.join(', ')} that are not tokens of tokenizer.json; expected ids of the tokenizer (<|im_end|> is ${ids.get('<|im_end|>') ?? 'missing'}); fix: set them from tokenizer.json's added_tokens`}`,
    );
  }
}

/** processor_class and image_processor_type resolve to the classes transformers.js needs for the family. */
export function checkProcessorClass(s: SectionWriter, pre: Json, modelType: unknown): void {
  const expected = PROCESSOR_CLASS[String(modelType)] ?? PROCESSOR_CLASS.qwen2_vl;
  const accepted = Object.values(PROCESSOR_CLASS);
  const got = pre.processor_class;
  const ok = typeof got === 'string' && accepted.includes(got);
  s.check(
    ok,
    ok
      ? `processor_class ${JSON.stringify(got)}`
      : `processor_class ${got === undefined ? 'is not set' : JSON.stringify(got)}: expected "${expected}" (transformers.js's AutoProcessor needs it to load the tokenizer with the image processor); fix: add "processor_class": "${expected}" to preprocessor_config.json`,
  );
  const type = typeof pre.image_processor_type === 'string' ? pre.image_processor_type.replace(/Fast$/, '') : undefined;
  s.check(
    type === IMAGE_PROCESSOR,
    type === IMAGE_PROCESSOR
      ? `image_processor_type ${JSON.stringify(pre.image_processor_type)}`
      : `image_processor_type ${pre.image_processor_type === undefined ? 'is not set' : JSON.stringify(pre.image_processor_type)}: expected "${IMAGE_PROCESSOR}" (otherwise transformers.js falls back to a generic image processor without Qwen's smart resize); fix: add "image_processor_type": "${IMAGE_PROCESSOR}" to preprocessor_config.json`,
  );
}

/** onnxruntime loads the graph (from its local path, or its bytes when it has no external data). */
export async function checkLoads(
  s: SectionWriter,
  file: string,
  source: string | Uint8Array | undefined,
): Promise<void> {
  if (source === undefined) {
    s.warn(
      `${file}: not loaded in onnxruntime (external data over a URL); run sayo inspect on a local copy to check it`,
    );
    return;
  }
  const problem = await ortLoadError(source);
  s.check(
    problem === null,
    problem === null
      ? `onnxruntime loads ${file}`
      : `onnxruntime cannot load ${file} (${problem}); expected a graph onnxruntime runs; fix: re-export or re-download the file`,
  );
}
