/**
 * @file Find the attention probabilities of an unfused decoder export and expose them as graph outputs.
 *
 * A decoder layer's attention is recognised as `MatMul(Q, Kᵀ) → (Mul/Div scale, Add mask, Cast …) → Softmax →
 * (Cast …) → MatMul(·, V)`. Its layer is read from the V side: the value cache the second MatMul consumes is the graph
 * output `present.<layer>.value` (directly or through Reshape / Expand / Transpose, as GQA head repetition does); when
 * no cache outputs exist, layers are numbered in graph (topological) order. Fused attention kernels
 * (Attention, MultiHeadAttention, GroupQueryAttention, …) never materialise the probabilities, so they are refused.
 */
import { CliError } from '../lib/errors.ts';
import { defaultOpset, onnx, toNum, type GraphProto, type ModelProto, type NodeProto, type ValueInfoProto } from './model.ts';

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
/** Ops allowed between the score MatMul and the Softmax. */
const SCORE_PATH_OPS = new Set(['Add', 'Sub', 'Mul', 'Div', 'Where', 'Cast', 'Identity', 'Min', 'Max']);
/** Ops allowed between the Softmax and the MatMul with V. */
const PROB_PATH_OPS = new Set(['Cast', 'Identity', 'Dropout']);
/** Ops allowed between `present.<l>.value` and the MatMul with V (GQA repetition, layout changes). */
const VALUE_PATH_OPS = new Set(['Reshape', 'Expand', 'Unsqueeze', 'Squeeze', 'Transpose', 'Tile', 'Cast', 'Identity', 'Concat']);
const MATMUL_OPS = new Set(['MatMul', 'FusedMatMul']);
const PREFIX = 'decoder_attentions.';

/** One attention Softmax found in the graph. */
export interface AttentionSite {
  layer: number;
  /** Name of the Softmax output tensor (the probabilities). */
  tensor: string;
  node: string;
}

interface GraphIndex {
  producer: Map<string, NodeProto>;
  consumers: Map<string, NodeProto[]>;
}

function indexGraph(graph: GraphProto): GraphIndex {
  const producer = new Map<string, NodeProto>();
  const consumers = new Map<string, NodeProto[]>();
  for (const node of graph.node ?? []) {
    for (const out of node.output ?? []) if (out) producer.set(out, node);
    for (const inp of node.input ?? []) {
      if (!inp) continue;
      const list = consumers.get(inp) ?? [];
      list.push(node);
      consumers.set(inp, list);
    }
  }
  return { producer, consumers };
}

/** Does a MatMul produce `tensor` through at most `depth` score-path ops? */
function fedByMatMul(tensor: string, index: GraphIndex, depth: number): boolean {
  const node = index.producer.get(tensor);
  if (!node) return false;
  if (MATMUL_OPS.has(node.opType ?? '')) return true;
  if (depth === 0 || !SCORE_PATH_OPS.has(node.opType ?? '')) return false;
  return (node.input ?? []).some((inp) => inp && fedByMatMul(inp, index, depth - 1));
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

/** The layer of the `present.<l>.value` output reached upstream from `tensor`, or -1. */
function presentLayer(tensor: string, index: GraphIndex, outputs: Set<string>, depth: number): number {
  const m = /^present\.(\d+)\.value$/.exec(tensor);
  if (m && outputs.has(tensor)) return Number(m[1]);
  const node = index.producer.get(tensor);
  if (!node || depth === 0 || !VALUE_PATH_OPS.has(node.opType ?? '')) return -1;
  for (const inp of node.input ?? []) {
    const layer = inp ? presentLayer(inp, index, outputs, depth - 1) : -1;
    if (layer >= 0) return layer;
  }
  return -1;
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

/**
 * Every decoder layer's attention Softmax, in layer order. Throws `CliError` with the reason when attention is
 * fused, lives in subgraphs, or cannot be matched to the model's layers.
 */
export function findAttention(graph: GraphProto): AttentionSite[] {
  const nodes = graph.node ?? [];
  const fused = nodes.filter((n) => FUSED_ATTENTION_OPS.includes(n.opType ?? ''));
  if (fused.length > 0) {
    const ops = [...new Set(fused.map((n) => n.opType))].join(', ');
    throw new CliError(
      `attention is fused (${fused.length} ${ops} node(s), e.g. "${fused[0].name}"): the kernel never materialises ` +
        'the probabilities, so they cannot be exposed; re-export with eager attention (MatMul → Softmax → MatMul)',
    );
  }
  const index = indexGraph(graph);
  const outputs = new Set((graph.output ?? []).map((o) => o.name ?? ''));
  const found: Array<{ tensor: string; node: string; present: number }> = [];
  for (const node of nodes) {
    if (node.opType !== 'Softmax' || (node.domain && node.domain !== 'ai.onnx')) continue;
    const probs = node.output?.[0];
    if (!probs || !fedByMatMul(node.input?.[0] ?? '', index, 6)) continue;
    const pv = valueMatMul(probs, index, 3);
    if (!pv) continue;
    found.push({ tensor: probs, node: node.name || probs, present: presentLayer(pv.input?.[1] ?? '', index, outputs, 10) });
  }
  if (found.length === 0) {
    const nested = countSubgraphSoftmax(graph);
    throw new CliError(
      nested > 0
        ? `attention not found in the main graph (${nested} Softmax node(s) sit inside If/Loop subgraphs, as in old ` +
            'merged exports with use_cache_branch); export a single merged decoder without control flow'
        : 'attention not found: no Softmax between a score MatMul and a MatMul with V (is this a decoder export?)',
    );
  }
  const layers = [...outputs].filter((name) => /^present\.\d+\.value$/.test(name)).length;
  if (layers > 0 && found.length !== layers) {
    throw new CliError(`found ${found.length} attention Softmax node(s) but the graph has ${layers} present.*.value outputs (layers)`);
  }
  const mapped = found.every((f) => f.present >= 0) && new Set(found.map((f) => f.present)).size === found.length;
  const sites = found.map((f, i) => ({ layer: mapped ? f.present : i, tensor: f.tensor, node: f.node }));
  return sites.sort((a, b) => a.layer - b.layer);
}

/** Which layers to expose: `last`, `all` or a comma list of 0-based indices. */
export function parseLayers(spec: string, available: number[]): number[] {
  if (spec === 'all') return [...available];
  if (spec === 'last') return [available[available.length - 1]];
  const wanted = spec.split(',').map((s) => s.trim());
  const layers = wanted.map((s) => {
    const n = Number(s);
    if (s === '' || !Number.isInteger(n)) throw new CliError(`--layers: "${s}" is not a layer index (use last, all or i,j)`);
    if (!available.includes(n)) throw new CliError(`--layers: the graph has no layer ${n} (layers ${available[0]}…${available[available.length - 1]})`);
    return n;
  });
  return [...new Set(layers)].sort((a, b) => a - b);
}

export type Reduce = 'none' | 'head-mean';

/** What `exposeAttention` added. */
export interface ExposeReport {
  outputs: string[];
  sites: AttentionSite[];
}

/** Ops whose output has the element type of one data input (index given). */
const TYPE_FROM_INPUT: Record<string, number> = {
  Softmax: 0, Add: 0, Sub: 0, Mul: 0, Div: 0, MatMul: 0, FusedMatMul: 0, Identity: 0, Reshape: 0, Transpose: 0,
  Expand: 0, Concat: 0, Unsqueeze: 0, Squeeze: 0, Slice: 0, Min: 0, Max: 0, Neg: 0, Where: 1,
};

/** Element type of a tensor from declarations, or propagated through type-preserving ops and Cast; 0 if unknown. */
function elemTypeOf(graph: GraphProto, index: GraphIndex, name: string, depth = 40): number {
  const declared = [...(graph.valueInfo ?? []), ...(graph.input ?? []), ...(graph.output ?? [])].find((v) => v.name === name);
  if (declared?.type?.tensorType?.elemType) return declared.type.tensorType.elemType;
  const init = (graph.initializer ?? []).find((t) => t.name === name);
  if (init?.dataType) return init.dataType;
  const node = index.producer.get(name);
  if (!node || depth === 0) return 0;
  if (node.opType === 'Cast') return toNum((node.attribute ?? []).find((a) => a.name === 'to')?.i);
  const from = TYPE_FROM_INPUT[node.opType ?? ''];
  const input = from === undefined ? undefined : node.input?.[from];
  return input ? elemTypeOf(graph, index, input, depth - 1) : 0;
}

/**
 * Output declaration of an exposed tensor: element type and shape from value_info or type propagation; when the
 * type cannot be determined it is left undeclared (onnxruntime infers it; a wrong declaration would fail to load).
 */
function outputInfo(graph: GraphProto, index: GraphIndex, name: string, source: string, reduce: Reduce): ValueInfoProto {
  const known = (graph.valueInfo ?? []).find((v) => v.name === source)?.type?.tensorType;
  const elemType = elemTypeOf(graph, index, source);
  if (!elemType) return onnx.ValueInfoProto.create({ name });
  const names = ['batch_size', 'num_heads', 'sequence_length', 'total_sequence_length'];
  const dims = names.map((dimParam, i) => {
    if (i === 1 && reduce === 'head-mean') return { dimValue: 1 };
    const k = known?.shape?.dim?.[i];
    return k?.dimValue ? { dimValue: k.dimValue } : { dimParam };
  });
  return onnx.ValueInfoProto.create({
    name,
    type: onnx.TypeProto.create({ tensorType: onnx.TypeProto.Tensor.create({ elemType, shape: { dim: dims } }) }),
  });
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

/** Remove the `decoder_attentions.*` graph outputs (the tensors stay); returns the removed names. */
export function stripAttentionOutputs(model: ModelProto): string[] {
  const graph = model.graph as GraphProto;
  const removed = (graph.output ?? []).filter((o) => o.name?.startsWith(PREFIX)).map((o) => o.name ?? '');
  graph.output = (graph.output ?? []).filter((o) => !o.name?.startsWith(PREFIX));
  return removed;
}

/**
 * Add `decoder_attentions.<layer>` outputs (Identity of the Softmax, or ReduceMean over heads) for `layerSpec`,
 * in increasing layer order. Mutates `model`. Refuses when the graph already has such outputs.
 */
export function exposeAttention(model: ModelProto, layerSpec: string, reduce: Reduce): ExposeReport {
  const graph = model.graph as GraphProto;
  const existing = (graph.output ?? []).filter((o) => o.name?.startsWith(PREFIX)).map((o) => o.name);
  if (existing.length > 0) throw new CliError(`the graph already has attention outputs (${existing.join(', ')})`);
  const sites = findAttention(graph);
  const layers = parseLayers(layerSpec, sites.map((s) => s.layer));
  const opset = defaultOpset(model);
  const chosen = sites.filter((s) => layers.includes(s.layer));
  const outputs: string[] = [];
  for (const site of chosen) {
    const name = `${PREFIX}${site.layer}`;
    renameTensor(graph, name, `${name}_probs`);
    if (site.tensor === name) site.tensor = `${name}_probs`;
    if (reduce === 'head-mean') {
      const node = onnx.NodeProto.create({ name: `expose_attention_${site.layer}`, opType: 'ReduceMean', input: [site.tensor], output: [name] });
      node.attribute.push(onnx.AttributeProto.create({ name: 'keepdims', type: onnx.AttributeProto.AttributeType.INT, i: 1 }));
      if (opset >= 18) {
        const axes = `expose_attention_axes_${site.layer}`;
        graph.initializer = [...(graph.initializer ?? []), onnx.TensorProto.create({ name: axes, dims: [1], dataType: onnx.TensorProto.DataType.INT64, int64Data: [1] })];
        node.input.push(axes);
      } else {
        node.attribute.push(onnx.AttributeProto.create({ name: 'axes', type: onnx.AttributeProto.AttributeType.INTS, ints: [1] }));
      }
      graph.node!.push(node);
    } else {
      graph.node!.push(onnx.NodeProto.create({ name: `expose_attention_${site.layer}`, opType: 'Identity', input: [site.tensor], output: [name] }));
    }
    graph.output!.push(outputInfo(graph, indexGraph(graph), name, site.tensor, reduce));
    outputs.push(name);
  }
  return { outputs, sites: chosen };
}
