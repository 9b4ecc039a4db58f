/**
 * @file The checks of `sayo inspect`: a model folder against models/CONTRACT.md — files, config fields, processor
 * settings, tokenizer special tokens and chat template, and each ONNX graph's input / output names, types and shapes,
 * including the optional `decoder_attentions.<l>` outputs. Each check yields pass, fail or warn with a reason.
 */
import { ModelRegistry, PretrainedConfig } from '@huggingface/transformers';
import { familyFor } from '../../engine/families/index.ts';
import { dtypeText, fitProblem, gib, type SizedFile } from '../../engine/fit.ts';
import { dtypeFileSuffix, REEXPORT_FIX } from '../../engine/families/layout.ts';
import { CliError, messageOf } from './errors.ts';
import { readJson, type ModelFolder } from './folder.ts';
import {
  checkChatTemplate,
  checkLoads,
  checkProcessorClass,
  checkSpecialIds,
  checkVocabFits,
  embeddingRows,
  tokenIds,
} from './inspect-runnable.ts';
import { decodeModel, externalLocations, onnx, toNum, type ModelProto, type ValueInfoProto } from '../onnx/model.ts';

export type Status = 'pass' | 'fail' | 'warn';

/** One line of the report. */
export interface Check {
  section: string;
  status: Status;
  message: string;
}

const SESSIONS = ['vision_encoder', 'embed_tokens', 'decoder_model_merged'] as const;
const JSON_FILES = [
  'config.json',
  'generation_config.json',
  'preprocessor_config.json',
  'tokenizer.json',
  'tokenizer_config.json',
];
const SPECIAL_TOKENS = [
  '<|endoftext|>',
  '<|im_start|>',
  '<|im_end|>',
  '<|vision_start|>',
  '<|vision_end|>',
  '<|image_pad|>',
];
const MODEL_TYPES = ['qwen2_vl', 'qwen2_5_vl', 'qwen3_vl'];
const FLOAT_TYPES: number[] = [onnx.TensorProto.DataType.FLOAT, onnx.TensorProto.DataType.FLOAT16];
const INT64 = onnx.TensorProto.DataType.INT64;

type Json = Record<string, unknown>;
type Dim = number | string;

/** Collects checks for one section. */
class Section {
  constructor(
    private readonly out: Check[],
    private readonly section: string,
  ) {}
  check(ok: boolean, message: string, failAs: Status = 'fail'): boolean {
    this.out.push({ section: this.section, status: ok ? 'pass' : failAs, message });
    return ok;
  }
  warn(message: string): void {
    this.out.push({ section: this.section, status: 'warn', message });
  }
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/** The ONNX file name of a session for the folder's dtype (config "transformers.js_config".dtype, or `dtype`). */
export function sessionFile(session: string, dtype: unknown): string {
  const d =
    typeof dtype === 'string' ? dtype : dtype && typeof dtype === 'object' ? (dtype as Json)[session] : undefined;
  const suffix = typeof d === 'string' ? dtypeFileSuffix(d) : '';
  return `onnx/${session}${suffix}.onnx`;
}

function io(v: ValueInfoProto): { name: string; elemType: number; dims: Dim[] } {
  const t = v.type?.tensorType;
  const dims = (t?.shape?.dim ?? []).map((d) => (d.dimParam ? d.dimParam : toNum(d.dimValue)));
  return { name: v.name ?? '', elemType: t?.elemType ?? 0, dims };
}

const typeName = (t: number) => onnx.TensorProto.DataType[t] ?? `type ${t}`;
const shape = (dims: Dim[]) => `[${dims.join(', ')}]`;

/** Check that `name` exists among `list` with an element type in `types`, the given rank, and `dimCheck`'s approval. */
function expectIO(
  s: Section,
  kind: string,
  list: ValueInfoProto[],
  name: string,
  types: number[],
  rank: number,
  dimCheck?: (dims: Dim[]) => string | null,
) {
  const found = list.find((v) => v.name === name);
  if (!found) {
    s.check(false, `${kind} ${name} is missing`);
    return;
  }
  const { elemType, dims } = io(found);
  const problems: string[] = [];
  if (!types.includes(elemType)) problems.push(`type must be ${types.map(typeName).join(' or ')}`);
  if (dims.length !== rank) problems.push(`rank must be ${rank}`);
  else {
    const problem = dimCheck?.(dims);
    if (problem) problems.push(problem);
  }
  s.check(
    problems.length === 0,
    `${kind} ${name} ${typeName(elemType)} ${shape(dims)}${problems.length ? `: ${problems.join('; ')}` : ''}`,
  );
}

/** Text-model sizes from config.json (top level for qwen2_vl, text_config for the newer families). */
function textSizes(config: Json) {
  const text = (config.text_config && typeof config.text_config === 'object' ? config.text_config : {}) as Json;
  const pick = (k: string) => num(config[k]) ?? num(text[k]);
  const heads = pick('num_attention_heads');
  const hidden = pick('hidden_size');
  return {
    num_hidden_layers: pick('num_hidden_layers'),
    num_attention_heads: heads,
    num_key_value_heads: pick('num_key_value_heads'),
    hidden_size: hidden,
    head_dim: pick('head_dim') ?? (heads && hidden ? hidden / heads : undefined),
  };
}

function checkConfig(s: Section, config: Json) {
  s.check(
    MODEL_TYPES.includes(String(config.model_type)),
    `model_type ${JSON.stringify(config.model_type)} (supported: ${MODEL_TYPES.join(', ')})`,
  );
  const sizes = textSizes(config);
  for (const [k, v] of Object.entries(sizes)) s.check(v !== undefined && v > 0, `${k} ${v ?? 'missing'}`);
  s.check(Boolean(config.vision_config && typeof config.vision_config === 'object'), 'vision_config present');
}

function checkPreprocessor(s: Section, pre: Json, modelType: unknown) {
  checkProcessorClass(s, pre, modelType);
  for (const k of ['patch_size', 'merge_size', 'temporal_patch_size'])
    s.check((num(pre[k]) ?? 0) > 0, `${k}: ${pre[k] ?? 'missing'}`);
  const size = (pre.size ?? {}) as Json;
  s.check(
    num(pre.min_pixels) !== undefined || num(size.shortest_edge) !== undefined,
    'min_pixels (or size.shortest_edge) set',
  );
  s.check(
    num(pre.max_pixels) !== undefined || num(size.longest_edge) !== undefined,
    'max_pixels (or size.longest_edge) set',
  );
  s.check(
    pre.do_resize === true || pre.size !== undefined,
    'do_resize: true (or a size object): without it images are not smart-resized',
  );
  s.check(pre.do_normalize === true, 'do_normalize: true (transformers.js does not default it)');
  for (const k of ['image_mean', 'image_std'])
    s.check(Array.isArray(pre[k]) && (pre[k] as unknown[]).length === 3, `${k} has 3 values`);
}

/** Special-token ids from tokenizer.json's added_tokens. */
function specialIds(tokenizer: Json): Map<string, number> {
  const ids = new Map<string, number>();
  for (const t of (Array.isArray(tokenizer.added_tokens) ? tokenizer.added_tokens : []) as Json[]) {
    if (typeof t.content === 'string' && typeof t.id === 'number') ids.set(t.content, t.id);
  }
  return ids;
}

function checkTokenizer(s: Section, tokenizer: Json, tokConfig: Json, ids: Map<string, number>, hasJinja: boolean) {
  const model = (tokenizer.model ?? {}) as Json;
  s.check(model.type === 'BPE', `tokenizer model ${JSON.stringify(model.type)} (BPE expected)`);
  for (const token of SPECIAL_TOKENS)
    s.check(
      ids.has(token),
      `special token ${token}${ids.has(token) ? ` = ${ids.get(token)}` : ' missing from added_tokens'}`,
    );
  const template = tokConfig.chat_template;
  s.check(
    (typeof template === 'string' && template.length > 0) || hasJinja,
    'chat_template present (tokenizer_config.json or chat_template.jinja)',
  );
}

function checkGeneration(s: Section, gen: Json, ids: Map<string, number>) {
  const eos = Array.isArray(gen.eos_token_id) ? gen.eos_token_id : [gen.eos_token_id];
  const imEnd = ids.get('<|im_end|>');
  s.check(
    imEnd !== undefined && eos.includes(imEnd),
    `eos_token_id ${JSON.stringify(gen.eos_token_id)} includes <|im_end|> (${imEnd ?? 'unknown'})`,
  );
}

/** The row width image_features / inputs_embeds must have: hidden_size × the family's feature column blocks. */
interface RowWidth {
  hidden: number | undefined;
  /** 1 + the number of DeepStack features. */
  columns: number;
  deepstack: number[];
}

/** Why a graph's row width `d` does not fit `w` (null when it does, or when either is not a number). */
function widthProblem(d: Dim | undefined, w: RowWidth): string | null {
  if (!w.hidden || typeof d !== 'number') return null;
  const want = w.hidden * w.columns;
  if (d === want) return null;
  if (w.columns === 1) return `hidden ${d} ≠ config ${w.hidden}`;
  const fix = `${REEXPORT_FIX}, which carries them`;
  if (d === w.hidden) {
    return (
      `width ${d} carries no DeepStack features, but config.json lists vision_config.deepstack_visual_indexes ` +
      `${JSON.stringify(w.deepstack)}: the decoder would run without them, so its answers and attention are not the ` +
      `model's; ${fix} (width ${w.hidden} × ${w.columns} = ${want})`
    );
  }
  return `width ${d} ≠ ${w.hidden} × (1 + ${w.deepstack.length} DeepStack features) = ${want}; ${fix}`;
}

function checkDecoder(
  s: Section,
  att: Section,
  model: ModelProto,
  sizes: ReturnType<typeof textSizes>,
  width: RowWidth,
) {
  const input = model.graph?.input ?? [];
  const output = model.graph?.output ?? [];
  const layers = sizes.num_hidden_layers ?? 0;
  expectIO(s, 'input', input, 'inputs_embeds', FLOAT_TYPES, 3, (d) => widthProblem(d[2], width));
  expectIO(s, 'input', input, 'attention_mask', [INT64], 2);
  expectIO(s, 'input', input, 'position_ids', [INT64], 3, (d) =>
    d[0] === 3 ? null : 'dim 0 must be 3 (M-RoPE t/h/w)',
  );
  const kvCheck = (past: boolean) => (d: Dim[]) => {
    if (past && d[0] !== 'batch_size')
      return `dim 0 must be the symbol batch_size (transformers.js builds the empty cache from it)`;
    if (typeof d[1] !== 'number' || (sizes.num_key_value_heads && d[1] !== sizes.num_key_value_heads))
      return `dim 1 (KV heads) must be the static ${sizes.num_key_value_heads}`;
    if (past && typeof d[2] !== 'string') return 'dim 2 (past length) must be symbolic';
    if (typeof d[3] !== 'number' || (sizes.head_dim && d[3] !== sizes.head_dim))
      return `dim 3 (head dim) must be the static ${sizes.head_dim}`;
    return null;
  };
  for (let i = 0; i < layers; i++) {
    for (const kv of ['key', 'value']) {
      expectIO(s, 'input', input, `past_key_values.${i}.${kv}`, FLOAT_TYPES, 4, kvCheck(true));
      expectIO(s, 'output', output, `present.${i}.${kv}`, FLOAT_TYPES, 4, kvCheck(false));
    }
  }
  expectIO(s, 'output', output, 'logits', FLOAT_TYPES, 3);
  const attention = output.map(io).filter((o) => o.name.startsWith('decoder_attentions.'));
  if (attention.length === 0) {
    att.warn(
      'no decoder_attentions.<l> outputs: the model answers but attention is unavailable; add them with `sayo expose-attention`',
    );
    return;
  }
  const ids = attention.map((o) => Number(o.name.slice('decoder_attentions.'.length)));
  att.check(
    ids.every((l) => Number.isInteger(l) && l >= 0 && l < layers),
    `layers ${ids.join(', ')} are decoder layers (0…${layers - 1})`,
  );
  att.check(
    ids.every((l, i) => i === 0 || l > ids[i - 1]),
    'declared in increasing layer order',
  );
  for (const o of attention) {
    att.check(
      FLOAT_TYPES.includes(o.elemType) && o.dims.length === 4,
      `${o.name} ${typeName(o.elemType)} ${shape(o.dims)} (rank 4 [batch, heads, sequence, total])`,
    );
  }
  att.check(ids.includes(layers - 1), `the last layer (${layers - 1}) is exposed (the SAYO reward uses it)`, 'warn');
}

/**
 * The weights the sessions load at `dtype` (transformers.js's own file list: graphs and external-data chunks), their
 * total size read without downloading them, and which runtimes can hold them (fit.ts): onnxruntime-node (the CLI),
 * and in the browser WASM (4 GiB WebAssembly memory) and WebGPU (external data straight to the GPU).
 */
async function checkSize(s: Section, folder: ModelFolder, config: Json, dtype: unknown): Promise<void> {
  const d = (typeof dtype === 'string' || (dtype && typeof dtype === 'object') ? dtype : 'fp32') as
    string | Record<string, string>;
  let files: string[];
  try {
    files = await ModelRegistry.get_model_files(folder.label, {
      config: new PretrainedConfig(config) as never,
      dtype: d as never,
      device: 'wasm',
    });
  } catch {
    return;
  }
  const sized: SizedFile[] = await Promise.all(
    files
      .filter((f) => /\.onnx(_data(_\d+)?)?$/.test(f))
      .map(async (f): Promise<SizedFile> => [f, await folder.size(f).catch(() => undefined)]),
  );
  const known = sized.filter((f): f is [string, number] => f[1] !== undefined);
  if (!known.length) return;
  const total = known.reduce((a, [, b]) => a + b, 0);
  const what = `weights at ${dtypeText(d)}: ${gib(total)} in ${known.length} file${known.length > 1 ? 's' : ''}`;
  const node = fitProblem(sized, 'cpu', 'node', dtypeText(d));
  if (!s.check(!node, node ?? `${what}; onnxruntime-node (this CLI) has no 4 GiB limit`)) return;
  for (const backend of ['wasm', 'webgpu'] as const) {
    const problem = fitProblem(sized, backend, 'browser', dtypeText(d));
    if (problem) s.warn(`browser ${backend === 'wasm' ? 'WASM' : 'WebGPU'}: ${problem}`);
    else
      s.check(
        true,
        `browser ${backend === 'wasm' ? 'WASM: fits the 4 GiB WebAssembly memory' : 'WebGPU: the graphs fit WebAssembly memory, external data goes to the GPU'}`,
      );
  }
}

async function loadGraph(folder: ModelFolder, s: Section, file: string, ortLoad: boolean): Promise<ModelProto | null> {
  try {
    const model = decodeModel(await folder.read(file), file);
    const external = externalLocations(model, file);
    let dataPresent = true;
    for (const loc of external) {
      const dataFile = `${file.slice(0, file.lastIndexOf('/') + 1)}${loc}`;
      dataPresent = s.check(await folder.exists(dataFile), `external data ${dataFile} present`) && dataPresent;
    }
    if (!ortLoad) s.warn(`${file}: not loaded in onnxruntime (--no-load): a pass does not prove the graph runs`);
    else if (dataPresent)
      await checkLoads(
        s,
        file,
        folder.localPath?.(file) ?? (external.length === 0 ? await folder.read(file) : undefined),
      );
    return model;
  } catch (err) {
    s.check(false, err instanceof CliError ? err.message : `${file}: ${messageOf(err)}`);
    return null;
  }
}

/** Run every check on `folder`; `dtype` overrides the config's transformers.js dtype for the ONNX file names;
 * `ortLoad: false` skips loading each graph in onnxruntime (for models larger than the memory at hand). */
export async function inspectFolder(folder: ModelFolder, dtype?: string, ortLoad = true): Promise<Check[]> {
  const checks: Check[] = [];
  const files = new Section(checks, 'files');
  const json: Record<string, Json> = {};
  for (const f of JSON_FILES) {
    if (!files.check(await folder.exists(f), f)) continue;
    try {
      json[f] = await readJson(folder, f);
    } catch (err) {
      files.check(false, messageOf(err));
    }
  }
  const config = json['config.json'] ?? {};
  const tjs = (config['transformers.js_config'] ?? {}) as Json;
  const onnxFiles = Object.fromEntries(SESSIONS.map((sn) => [sn, sessionFile(sn, dtype ?? tjs.dtype)]));
  const present: Record<string, boolean> = {};
  for (const [sn, f] of Object.entries(onnxFiles)) present[sn] = files.check(await folder.exists(f), f);
  if (json['config.json']) await checkSize(new Section(checks, 'size'), folder, config, dtype ?? tjs.dtype);
  const ids = specialIds(json['tokenizer.json'] ?? {});
  const allIds = tokenIds(json['tokenizer.json'] ?? {});
  if (json['tokenizer.json'] && json['tokenizer_config.json']) {
    const ts = new Section(checks, 'tokenizer');
    const jinja = (await folder.exists('chat_template.jinja'))
      ? new TextDecoder().decode(await folder.read('chat_template.jinja'))
      : null;
    checkTokenizer(ts, json['tokenizer.json'], json['tokenizer_config.json'], ids, jinja !== null);
    await checkChatTemplate(
      ts,
      json['tokenizer.json'],
      json['tokenizer_config.json'],
      jinja,
      num(config.image_token_id) ?? ids.get('<|image_pad|>'),
    );
  }
  if (json['config.json']) checkConfig(new Section(checks, 'config'), config);
  if (json['config.json'] && json['tokenizer.json'])
    checkSpecialIds(new Section(checks, 'special tokens'), config, json['generation_config.json'], allIds);
  if (json['generation_config.json'])
    checkGeneration(new Section(checks, 'generation'), json['generation_config.json'], ids);
  if (json['preprocessor_config.json'])
    checkPreprocessor(new Section(checks, 'preprocessor'), json['preprocessor_config.json'], config.model_type);
  const sizes = textSizes(config);
  const family = familyFor(String(config.model_type));
  const width: RowWidth = {
    hidden: sizes.hidden_size,
    columns: family?.featureColumns(config) ?? 1,
    deepstack: family?.deepstackIndexes(config) ?? [],
  };
  if (width.deepstack.length) {
    new Section(checks, 'deepstack').check(
      width.deepstack.every((i) => Number.isInteger(i) && i >= 0) &&
        new Set(width.deepstack).size === width.deepstack.length,
      `vision_config.deepstack_visual_indexes ${JSON.stringify(width.deepstack)}: ${width.deepstack.length} features added ` +
        `after decoder layers 0…${width.deepstack.length - 1}, carried as column blocks of image_features and inputs_embeds ` +
        `(rows ${sizes.hidden_size ?? '?'} × ${width.columns} wide)`,
    );
  }
  const vs = new Section(checks, 'vision_encoder');
  if (present.vision_encoder) {
    const m = await loadGraph(folder, vs, onnxFiles.vision_encoder, ortLoad);
    if (m) {
      expectIO(vs, 'input', m.graph?.input ?? [], 'pixel_values', FLOAT_TYPES, 2);
      const gridInput = family?.gridInput ?? 'grid_thw';
      expectIO(vs, 'input', m.graph?.input ?? [], gridInput, [INT64], 2, (d) =>
        d[1] === 3 ? null : 'dim 1 must be 3',
      );
      expectIO(vs, 'output', m.graph?.output ?? [], 'image_features', FLOAT_TYPES, 2, (d) => widthProblem(d[1], width));
    }
  }
  const es = new Section(checks, 'embed_tokens');
  if (present.embed_tokens) {
    const m = await loadGraph(folder, es, onnxFiles.embed_tokens, ortLoad);
    if (m) {
      expectIO(es, 'input', m.graph?.input ?? [], 'input_ids', [INT64], 2);
      expectIO(es, 'output', m.graph?.output ?? [], 'inputs_embeds', FLOAT_TYPES, 3, (d) => widthProblem(d[2], width));
      if (json['tokenizer.json'])
        checkVocabFits(
          es,
          allIds,
          embeddingRows(m),
          num(config.vocab_size) ?? num(((config.text_config ?? {}) as Json).vocab_size),
        );
    }
  }
  const ds = new Section(checks, 'decoder');
  if (present.decoder_model_merged) {
    const m = await loadGraph(folder, ds, onnxFiles.decoder_model_merged, ortLoad);
    if (m) checkDecoder(ds, new Section(checks, 'attention'), m, sizes, width);
  }
  return checks;
}
