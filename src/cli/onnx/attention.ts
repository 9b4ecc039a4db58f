/**
 * @file Find the attention probabilities of an unfused decoder export and expose them as graph outputs.
 *
 * An attention is recognised as `MatMul(Q, Kᵀ) → (Mul/Div scale, Add mask, Where, Cast, Reshape, Transpose …) →
 * Softmax → (Cast, Dropout …) → MatMul(·, V)`. What feeds K tells self- from cross-attention: K that depends on the
 * decoder's own tokens or cache is self-attention (`decoder_attentions.<l>`), K that depends on encoder states only
 * is cross-attention (`cross_attentions.<l>`, exposed only on request). A self-attention layer is read from the V
 * side: the value cache the second MatMul consumes is the graph output `present.<layer>.value` (directly or through
 * Reshape / Expand / Transpose, as GQA head repetition does); otherwise layers are numbered in graph order.
 * Probabilities computed as 3-D [batch·heads, q, k] (bmm layouts: old BART / OPT, MVP) are exposed reshaped to
 * [batch, heads, q, k], batch and heads taken from the 4-D tensor V is reshaped from. Fused attention kernels
 * (Attention, MultiHeadAttention, GroupQueryAttention, …) never materialise the probabilities, so they are refused.
 */
import { CliError } from '../lib/errors.ts';
import { GraphIndex } from './graph.ts';
import {
  defaultOpset,
  onnx,
  toNum,
  type GraphProto,
  type ModelProto,
  type NodeProto,
  type ValueInfoProto,
} from './model.ts';

/** Ops that compute attention internally: their probabilities cannot be exposed. */
export const FUSED_ATTENTION_OPS = [
  'Attention',
  'MultiHeadAttention',
  'GroupQueryAttention',
  'PackedAttention',
  'PackedMultiHeadAttention',
  'SparseAttention',
  'DecoderMaskedMultiHeadAttention',
  'DecoderMaskedSelfAttention',
  'DecoderAttention',
];
/** Ops allowed between the score MatMul and the Softmax (Reshape / Transpose: [batch·heads, q, k] layouts). */
const SCORE_PATH_OPS = new Set([
  'Add',
  'Sub',
  'Mul',
  'Div',
  'Where',
  'Cast',
  'Identity',
  'Min',
  'Max',
  'Reshape',
  'Transpose',
]);
/** Ops allowed between the Softmax and the MatMul with V. */
const PROB_PATH_OPS = new Set(['Cast', 'Identity', 'Dropout']);
/** Ops allowed between a cache tensor (`present.<l>.value`) and the MatMul with V (GQA repetition, layout changes). */
const VALUE_PATH_OPS = new Set([
  'Reshape',
  'Expand',
  'Unsqueeze',
  'Squeeze',
  'Transpose',
  'Tile',
  'Cast',
  'Identity',
  'Concat',
]);
const MATMUL_OPS = new Set(['MatMul', 'FusedMatMul']);
export const SELF_PREFIX = 'decoder_attentions.';
export const CROSS_PREFIX = 'cross_attentions.';
/** Graph inputs that carry the decoder's own token stream (optimum / transformers.js names). */
const DECODER_INPUT =
  /^(input_ids|inputs_embeds|decoder_input_ids|decoder_inputs_embeds|past_key_values\.\d+\.(decoder\.)?(key|value))$/;
/** Graph inputs that carry encoder states (seq2seq decoders, GPT-2 with add_cross_attention). */
const ENCODER_INPUT = /encoder/i;
const SELF_VALUE = /^present\.(\d+)\.(decoder\.)?value$/;
const CROSS_VALUE = /^(present|past_key_values)\.(\d+)\.encoder\.value$/;

export type AttentionKind = 'self' | 'cross';

/** One attention Softmax found in the graph. */
export interface AttentionSite {
  kind: AttentionKind;
  layer: number;
  /** Name of the Softmax output tensor (the probabilities). */
  tensor: string;
  node: string;
  /** Rank of the probabilities: 4 for [batch, heads, q, k], 3 for [batch·heads, q, k]; undefined when unknown. */
  rank: number | undefined;
  /** For rank 3: a rank-4 tensor [batch, heads, …] on the V side whose first two dims split batch·heads. */
  headsFrom?: string;
  /** Static head count, when a declaration gives it. */
  heads?: number;
}

/** Every attention of a decoder graph, self- and cross-attention apart, each in layer order. */
export interface AttentionSites {
  self: AttentionSite[];
  cross: AttentionSite[];
}

/** The nodes from the score MatMul to `tensor` (MatMul first) through at most `depth` score-path ops, trying data
 * inputs before masks; undefined when no MatMul produces `tensor` that way. */
function scorePath(tensor: string, index: GraphIndex, depth: number): NodeProto[] | undefined {
  const node = index.producer.get(tensor);
  if (!node) return undefined;
  if (MATMUL_OPS.has(node.opType ?? '')) return [node];
  if (depth === 0 || !SCORE_PATH_OPS.has(node.opType ?? '')) return undefined;
  const data =
    node.opType === 'Reshape'
      ? [node.input?.[0]]
      : node.opType === 'Where'
        ? [node.input?.[1], node.input?.[2]]
        : (node.input ?? []);
  for (const inp of data) {
    const found = inp ? scorePath(inp, index, depth - 1) : undefined;
    if (found) return [...found, node];
  }
  return undefined;
}

/** Rank of the probabilities: declared, else set by the score path's last Reshape / Transpose, else the MatMul's. */
function probsRank(probs: string, path: NodeProto[], index: GraphIndex): number | undefined {
  const declared = index.rank(probs);
  if (declared !== undefined) return declared;
  for (const node of [...path].reverse()) {
    if (node.opType === 'Reshape' || node.opType === 'Transpose' || MATMUL_OPS.has(node.opType ?? ''))
      return index.rank(node.output?.[0] ?? '');
  }
  return undefined;
}

/** The MatMul that consumes `tensor` as its left operand (through probability-path ops), if any. */
function valueMatMul(tensor: string, index: GraphIndex, depth: number): NodeProto | undefined {
  for (const node of index.consumers.get(tensor) ?? []) {
    if (MATMUL_OPS.has(node.opType ?? '') && node.input?.[0] === tensor) return node;
    if (depth > 0 && PROB_PATH_OPS.has(node.opType ?? '')) {
      const found = valueMatMul(node.output?.[0] ?? '', index, depth - 1);
      if (found) return found;
    }
  }
  return undefined;
}

/** The layer of the cache tensor matching `pattern` (layer in group `group`) reached upstream from `tensor`, or -1. */
function cacheLayer(
  tensor: string,
  index: GraphIndex,
  names: Set<string>,
  pattern: RegExp,
  group: number,
  depth: number,
): number {
  const m = pattern.exec(tensor);
  if (m && names.has(tensor)) return Number(m[group]);
  const node = index.producer.get(tensor);
  if (!node || depth === 0 || !VALUE_PATH_OPS.has(node.opType ?? '')) return -1;
  for (const inp of node.input ?? []) {
    const layer = inp ? cacheLayer(inp, index, names, pattern, group, depth - 1) : -1;
    if (layer >= 0) return layer;
  }
  return -1;
}

/** A rank-4 tensor upstream of V through Reshape / Cast / Identity only (its dims 0, 1 are batch and heads). */
function fourDimSource(tensor: string, index: GraphIndex, depth: number): string | undefined {
  if (index.rank(tensor) === 4) return tensor;
  const node = index.producer.get(tensor);
  if (!node || depth === 0 || !['Reshape', 'Cast', 'Identity'].includes(node.opType ?? '')) return undefined;
  return fourDimSource(node.input?.[0] ?? '', index, depth - 1);
}

/** Static dim 1 (heads) of a declared rank-4 tensor. */
function declaredHeads(graph: GraphProto, name: string): number | undefined {
  const v = [...(graph.valueInfo ?? []), ...(graph.input ?? []), ...(graph.output ?? [])].find((x) => x.name === name);
  const d = v?.type?.tensorType?.shape?.dim;
  return d && d.length === 4 && d[1].dimValue ? toNum(d[1].dimValue) : undefined;
}

function countSubgraphSoftmax(graph: GraphProto): number {
  let count = 0;
  for (const node of graph.node ?? []) {
    for (const attr of node.attribute ?? []) {
      for (const g of [attr.g, ...(attr.graphs ?? [])]) {
        if (!g) continue;
        count += (g.node ?? []).filter((n) => n.opType === 'Softmax').length + countSubgraphSoftmax(g);
      }
    }
  }
  return count;
}

/** Number sites by the cache tensor each reaches, or in graph order when not every site reaches a distinct one. */
function numbered(found: Array<Omit<AttentionSite, 'layer'> & { cache: number }>): AttentionSite[] {
  const mapped = found.every((f) => f.cache >= 0) && new Set(found.map((f) => f.cache)).size === found.length;
  return found.map(({ cache, ...f }, i) => ({ ...f, layer: mapped ? cache : i })).sort((a, b) => a.layer - b.layer);
}

/**
 * Every attention Softmax of a decoder graph, told apart by what feeds K: self-attention when K depends on the
 * decoder's own tokens or cache (input_ids / inputs_embeds / past_key_values.<l>.*), cross-attention when it depends
 * on encoder states only. Throws `CliError` naming the cause when the graph is not a decoder, attention is fused,
 * lives in subgraphs, or cannot be matched to the model's layers.
 */
export function findAttention(graph: GraphProto): AttentionSites {
  const nodes = graph.node ?? [];
  const fused = nodes.filter((n) => FUSED_ATTENTION_OPS.includes(n.opType ?? ''));
  if (fused.length > 0) {
    const ops = [...new Set(fused.map((n) => n.opType))].join(', ');
    throw new CliError(
      `attention is fused (${fused.length} ${ops} node(s), e.g. "${fused[0].name}"): the kernel never materialises ` +
        'the probabilities, so they cannot be exposed; re-export with eager attention (MatMul → Softmax → MatMul)',
    );
  }
  const index = new GraphIndex(graph);
  const inputs = [...index.inputs];
  if (!inputs.some((i) => DECODER_INPUT.test(i))) {
    throw new CliError(
      `not a decoder graph: its inputs (${inputs.join(', ') || 'none'}) include no input_ids, inputs_embeds or ` +
        'past_key_values.<l>.key/value; expose-attention rewrites a decoder export such as onnx/decoder_model_merged.onnx',
    );
  }
  const names = new Set([...(graph.output ?? []).map((o) => o.name ?? ''), ...inputs]);
  const found: Record<AttentionKind, Array<Omit<AttentionSite, 'layer'> & { cache: number }>> = { self: [], cross: [] };
  for (const node of nodes) {
    if (node.opType !== 'Softmax' || (node.domain && node.domain !== 'ai.onnx')) continue;
    const probs = node.output?.[0];
    const path = probs ? scorePath(node.input?.[0] ?? '', index, 8) : undefined;
    const scores = path?.[0];
    const pv = probs && scores ? valueMatMul(probs, index, 3) : undefined;
    if (!probs || !path || !scores || !pv) continue;
    const cone = [...index.inputCone(scores.input?.[1] ?? '')];
    const kind: AttentionKind | undefined = cone.some((i) => DECODER_INPUT.test(i))
      ? 'self'
      : cone.some((i) => ENCODER_INPUT.test(i))
        ? 'cross'
        : undefined;
    const label = node.name || probs;
    if (!kind) {
      throw new CliError(
        `attention "${label}": its keys depend on neither the decoder's tokens nor encoder states (inputs ${cone.join(', ') || 'none'}), so it cannot be labelled self- or cross-attention`,
      );
    }
    const rank = probsRank(probs, path, index);
    const v = pv.input?.[1] ?? '';
    let headsFrom: string | undefined;
    if (rank === 3) {
      headsFrom = fourDimSource(v, index, 10);
      if (!headsFrom) {
        throw new CliError(
          `attention "${label}" gives 3-D [batch·heads, q, k] probabilities, but no 4-D [batch, heads, …] tensor feeds its V through Reshape, so batch and heads cannot be split; export with 4-D attention (current transformers, eager)`,
        );
      }
    } else if (rank !== undefined && rank !== 4) {
      throw new CliError(
        `attention "${label}" gives rank-${rank} probabilities; only [batch, heads, q, k] (rank 4) and [batch·heads, q, k] (rank 3) are supported`,
      );
    }
    const cache =
      kind === 'self'
        ? cacheLayer(v, index, names, SELF_VALUE, 1, 10)
        : cacheLayer(v, index, names, CROSS_VALUE, 2, 10);
    const heads = declaredHeads(graph, probs) ?? (headsFrom ? declaredHeads(graph, headsFrom) : undefined);
    found[kind].push({ kind, tensor: probs, node: label, rank, headsFrom, heads, cache });
  }
  if (found.self.length + found.cross.length === 0) {
    const nested = countSubgraphSoftmax(graph);
    throw new CliError(
      nested > 0
        ? `attention not found in the main graph (${nested} Softmax node(s) sit inside If/Loop subgraphs, as in old ` +
            'merged exports with use_cache_branch); export a single merged decoder without control flow'
        : 'attention not found: no Softmax between a score MatMul (Q·Kᵀ) and a MatMul with V; re-export the decoder with eager attention',
    );
  }
  const layers = [...names].filter((name) => SELF_VALUE.test(name) && name.startsWith('present.')).length;
  if (layers > 0 && found.self.length !== layers) {
    throw new CliError(
      `found ${found.self.length} self-attention Softmax node(s) (keys from the decoder's own tokens) and ${found.cross.length} ` +
        `cross-attention one(s) (keys from encoder states), but the graph has ${layers} present.<l>.value outputs (layers); ` +
        'the attention pattern is not one expose-attention knows: re-export with eager attention',
    );
  }
  return { self: numbered(found.self), cross: numbered(found.cross) };
}

/** Which layers to expose: `last`, `all` or a comma list of 0-based indices. */
export function parseLayers(spec: string, available: number[], option = '--layers'): number[] {
  if (spec === 'all') return [...available];
  if (spec === 'last') return [available[available.length - 1]];
  const wanted = spec.split(',').map((s) => s.trim());
  const layers = wanted.map((s) => {
    const n = Number(s);
    if (!/^\d+$/.test(s) || !Number.isInteger(n))
      throw new CliError(
        `${option}: "${s}" is not a layer index (use last, all or a comma list of 0-based layers, e.g. 0,3)`,
      );
    if (!available.includes(n))
      throw new CliError(
        `${option}: the graph has no layer ${n} (layers ${available[0]}…${available[available.length - 1]})`,
      );
    return n;
  });
  return [...new Set(layers)].sort((a, b) => a - b);
}

export type Reduce = 'none' | 'head-mean';

/** What to expose: self-attention layers (`last`, `all`, `i,j`), optionally cross-attention layers, per head or mean. */
export interface ExposeOptions {
  layers: string;
  crossLayers?: string;
  reduce: Reduce;
}

/** What `exposeAttention` added. */
export interface ExposeReport {
  outputs: string[];
  sites: AttentionSite[];
  /** Cross-attention sites found but not exposed (no `crossLayers`). */
  skippedCross: AttentionSite[];
}

/** Ops whose output has the element type of their data inputs (which of the inputs may carry it). */
const TYPE_FROM_INPUTS: Record<string, number[]> = {
  Softmax: [0],
  Add: [0, 1],
  Sub: [0, 1],
  Mul: [0, 1],
  Div: [0, 1],
  Pow: [0],
  MatMul: [0, 1],
  FusedMatMul: [0, 1],
  Gemm: [0, 1, 2],
  Identity: [0],
  Dropout: [0],
  Reshape: [0],
  Transpose: [0],
  Expand: [0],
  Concat: [0, 1, 2],
  Unsqueeze: [0],
  Squeeze: [0],
  Slice: [0],
  Split: [0],
  Gather: [0],
  Min: [0, 1],
  Max: [0, 1],
  Neg: [0],
  Sqrt: [0],
  Tanh: [0],
  Where: [1, 2],
};

/** Element type of a tensor from declarations, or propagated through type-preserving ops and Cast; 0 if unknown. */
function elemTypeOf(graph: GraphProto, index: GraphIndex, name: string, depth = 40): number {
  const declared = [...(graph.valueInfo ?? []), ...(graph.input ?? []), ...(graph.output ?? [])].find(
    (v) => v.name === name,
  );
  if (declared?.type?.tensorType?.elemType) return declared.type.tensorType.elemType;
  const init = index.constant(name);
  if (init?.dataType) return init.dataType;
  const node = index.producer.get(name);
  if (!node || depth === 0) return 0;
  if (node.opType === 'Cast') return toNum((node.attribute ?? []).find((a) => a.name === 'to')?.i);
  for (const i of TYPE_FROM_INPUTS[node.opType ?? ''] ?? []) {
    const input = node.input?.[i];
    const type = input ? elemTypeOf(graph, index, input, depth - 1) : 0;
    if (type) return type;
  }
  return 0;
}

/**
 * Output declaration of an exposed tensor: element type from declarations or type propagation; shape
 * [batch_size, heads, sequence_length, total_sequence_length | encoder_sequence_length] when the rank is known to be 4
 * (static heads when declared), no shape when unknown. When the type cannot be determined the output is left
 * undeclared (onnxruntime infers it; a wrong declaration would fail to load).
 */
function outputInfo(
  graph: GraphProto,
  index: GraphIndex,
  name: string,
  site: AttentionSite,
  reduce: Reduce,
): ValueInfoProto {
  const elemType = elemTypeOf(graph, index, site.tensor);
  if (!elemType) return onnx.ValueInfoProto.create({ name });
  const keys = site.kind === 'self' ? 'total_sequence_length' : 'encoder_sequence_length';
  const heads =
    reduce === 'head-mean' ? { dimValue: 1 } : site.heads ? { dimValue: site.heads } : { dimParam: 'num_heads' };
  const dim = [{ dimParam: 'batch_size' }, heads, { dimParam: 'sequence_length' }, { dimParam: keys }];
  const tensorType = onnx.TypeProto.Tensor.create(
    site.rank === undefined ? { elemType } : { elemType, shape: { dim } },
  );
  return onnx.ValueInfoProto.create({ name, type: onnx.TypeProto.create({ tensorType }) });
}

/** Rename an intermediate tensor (producer output and every consumer input), e.g. a Softmax output that already
 * bears the name an exposed output must take. */
function renameTensor(graph: GraphProto, from: string, to: string): void {
  for (const node of graph.node ?? []) {
    node.output = (node.output ?? []).map((o) => (o === from ? to : o));
    node.input = (node.input ?? []).map((i) => (i === from ? to : i));
  }
  for (const v of graph.valueInfo ?? []) if (v.name === from) v.name = to;
}

const isAttentionOutput = (name: string | null | undefined) =>
  Boolean(name?.startsWith(SELF_PREFIX) || name?.startsWith(CROSS_PREFIX));

/** Remove the `decoder_attentions.*` and `cross_attentions.*` graph outputs (the tensors stay); returns their names. */
export function stripAttentionOutputs(model: ModelProto): string[] {
  const graph = model.graph as GraphProto;
  const removed = (graph.output ?? []).filter((o) => isAttentionOutput(o.name)).map((o) => o.name ?? '');
  graph.output = (graph.output ?? []).filter((o) => !isAttentionOutput(o.name));
  return removed;
}

/** Nodes that turn 3-D [batch·heads, q, k] `probs` into 4-D [batch, heads, q, k]: Reshape to
 * Concat(Shape(headsFrom)[0:2], Shape(probs)[1:3]). Returns the 4-D tensor's name. */
function splitHeads(graph: GraphProto, probs: string, headsFrom: string, tag: string): string {
  const t = (s: string) => `${tag}_${s}`;
  const int64 = (name: string, v: number) =>
    onnx.TensorProto.create({ name, dims: [1], dataType: onnx.TensorProto.DataType.INT64, int64Data: [v] });
  graph.initializer = [
    ...(graph.initializer ?? []),
    int64(t('0'), 0),
    int64(t('1'), 1),
    int64(t('2'), 2),
    int64(t('3'), 3),
  ];
  const n = (
    opType: string,
    input: string[],
    output: string,
    attribute: ReturnType<typeof onnx.AttributeProto.create>[] = [],
  ) => graph.node!.push(onnx.NodeProto.create({ name: output, opType, input, output: [output], attribute }));
  n('Shape', [headsFrom], t('src_shape'));
  n('Slice', [t('src_shape'), t('0'), t('2')], t('batch_heads'));
  n('Shape', [probs], t('probs_shape'));
  n('Slice', [t('probs_shape'), t('1'), t('3')], t('q_k'));
  n('Concat', [t('batch_heads'), t('q_k')], t('shape4'), [
    onnx.AttributeProto.create({ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 0 }),
  ]);
  n('Reshape', [probs, t('shape4')], t('probs4'));
  return t('probs4');
}

/** `base`, or `base_<i>` when a node or tensor of the graph already uses that name (a graph exposed before, whose
 * outputs were removed since, keeps the earlier nodes). */
function uniqueTag(graph: GraphProto, base: string): string {
  const used = new Set<string>();
  for (const n of graph.node ?? []) {
    if (n.name) used.add(n.name);
    for (const o of n.output ?? []) used.add(o);
  }
  for (const t of graph.initializer ?? []) if (t.name) used.add(t.name);
  const taken = (tag: string) => [...used].some((u) => u === tag || u.startsWith(`${tag}_`));
  if (!taken(base)) return base;
  let i = 1;
  while (taken(`${base}_${i}`)) i++;
  return `${base}_${i}`;
}

/** Expose one site as the graph output `name`. */
function exposeSite(model: ModelProto, site: AttentionSite, name: string, reduce: Reduce): void {
  const graph = model.graph as GraphProto;
  const tag = uniqueTag(graph, `expose_${name.replace(/\W/g, '_')}`);
  renameTensor(graph, name, `${name}_probs`);
  if (site.tensor === name) site.tensor = `${name}_probs`;
  if (site.headsFrom === name) site.headsFrom = `${name}_probs`;
  const source = site.rank === 3 && site.headsFrom ? splitHeads(graph, site.tensor, site.headsFrom, tag) : site.tensor;
  if (reduce === 'head-mean') {
    const node = onnx.NodeProto.create({ name: tag, opType: 'ReduceMean', input: [source], output: [name] });
    node.attribute.push(
      onnx.AttributeProto.create({ name: 'keepdims', type: onnx.AttributeProto.AttributeType.INT, i: 1 }),
    );
    if (defaultOpset(model) >= 18) {
      const axes = `${tag}_axes`;
      graph.initializer = [
        ...(graph.initializer ?? []),
        onnx.TensorProto.create({ name: axes, dims: [1], dataType: onnx.TensorProto.DataType.INT64, int64Data: [1] }),
      ];
      node.input.push(axes);
    } else {
      node.attribute.push(
        onnx.AttributeProto.create({ name: 'axes', type: onnx.AttributeProto.AttributeType.INTS, ints: [1] }),
      );
    }
    graph.node!.push(node);
  } else {
    graph.node!.push(onnx.NodeProto.create({ name: tag, opType: 'Identity', input: [source], output: [name] }));
  }
  graph.output!.push(outputInfo(graph, new GraphIndex(graph), name, site, reduce));
}

/**
 * Add `decoder_attentions.<layer>` outputs for the self-attention layers of `options.layers` (and
 * `cross_attentions.<layer>` for `options.crossLayers`), each the probabilities [batch, heads, q, k] or their mean
 * over heads, in increasing layer order. Mutates `model`. Refuses when the graph already has attention outputs.
 */
export function exposeAttention(model: ModelProto, options: ExposeOptions): ExposeReport {
  const graph = model.graph as GraphProto;
  const existing = (graph.output ?? []).filter((o) => isAttentionOutput(o.name)).map((o) => o.name);
  if (existing.length > 0)
    throw new CliError(
      `the graph already has attention outputs (${existing.join(', ')}); expose-attention adds them to a graph without any`,
    );
  const { self, cross } = findAttention(graph);
  if (self.length === 0) {
    throw new CliError(
      `found only cross-attention (${cross.length} Softmax node(s) whose keys come from encoder states) and no self-attention; ` +
        'pass --cross-layers to expose it as cross_attentions.<l>, or check that this is the decoder graph',
    );
  }
  const chosen: Array<[AttentionSite, string]> = [];
  const selfLayers = parseLayers(
    options.layers,
    self.map((s) => s.layer),
  );
  for (const s of self) if (selfLayers.includes(s.layer)) chosen.push([s, `${SELF_PREFIX}${s.layer}`]);
  if (options.crossLayers !== undefined) {
    if (cross.length === 0)
      throw new CliError(
        '--cross-layers: the graph has no cross-attention (no attention whose keys come from encoder states)',
      );
    const crossLayers = parseLayers(
      options.crossLayers,
      cross.map((s) => s.layer),
      '--cross-layers',
    );
    for (const s of cross) if (crossLayers.includes(s.layer)) chosen.push([s, `${CROSS_PREFIX}${s.layer}`]);
  }
  for (const [site, name] of chosen) exposeSite(model, site, name, options.reduce);
  return {
    outputs: chosen.map(([, name]) => name),
    sites: chosen.map(([site]) => site),
    skippedCross: options.crossLayers === undefined ? cross : [],
  };
}
