/**
 * @file Static facts about an ONNX graph without running it: who produces and consumes each tensor, the tensor's
 * rank (from declarations, constant shapes and a few shape rules), and which graph inputs a tensor depends on.
 */
import { toNum, type GraphProto, type NodeProto, type TensorProto } from './model.ts';

/** Ops whose output depends on the shape of their input, not its values. */
const SHAPE_ONLY_OPS = new Set(['Shape', 'Size', 'ConstantOfShape', 'EyeLike']);
/** Ops whose first input is the data and the others shapes, axes or indices into it. */
const DATA_FIRST_OPS = new Set([
  'Reshape',
  'Expand',
  'Slice',
  'Unsqueeze',
  'Squeeze',
  'Tile',
  'Pad',
  'Split',
  'ReduceMean',
  'ReduceSum',
]);

/** Producer and consumers of every tensor of a graph, and its declared ranks. */
export class GraphIndex {
  readonly producer = new Map<string, NodeProto>();
  readonly consumers = new Map<string, NodeProto[]>();
  readonly inputs: Set<string>;
  private readonly constants = new Map<string, TensorProto>();
  private readonly declaredRank = new Map<string, number>();
  private readonly ranks = new Map<string, number | undefined>();

  constructor(readonly graph: GraphProto) {
    for (const node of graph.node ?? []) {
      for (const out of node.output ?? []) if (out) this.producer.set(out, node);
      for (const inp of node.input ?? []) {
        if (!inp) continue;
        const list = this.consumers.get(inp) ?? [];
        list.push(node);
        this.consumers.set(inp, list);
      }
      if (node.opType === 'Constant') {
        const t = (node.attribute ?? []).find((a) => a.name === 'value')?.t;
        if (t && node.output?.[0]) this.constants.set(node.output[0], t);
      }
    }
    for (const t of graph.initializer ?? []) if (t.name) this.constants.set(t.name, t);
    for (const v of [...(graph.valueInfo ?? []), ...(graph.input ?? []), ...(graph.output ?? [])]) {
      const shape = v.type?.tensorType?.shape;
      if (v.name && shape) this.declaredRank.set(v.name, (shape.dim ?? []).length);
    }
    this.inputs = new Set((graph.input ?? []).map((i) => i.name ?? '').filter((n) => n && !this.constants.has(n)));
  }

  /** A constant tensor (initializer or Constant node output) named `name`, if any. */
  constant(name: string): TensorProto | undefined {
    return this.constants.get(name);
  }

  /** Number of elements of a 1-D shape tensor (the rank it gives a Reshape / Expand), if known statically. */
  private shapeLength(name: string, depth: number): number | undefined {
    const c = this.constants.get(name);
    if (c) return (c.dims ?? []).length === 1 ? toNum(c.dims![0]) : undefined;
    const node = this.producer.get(name);
    if (!node || depth === 0) return undefined;
    const ins = (node.input ?? []).filter(Boolean);
    switch (node.opType) {
      case 'Concat': {
        const parts = ins.map((i) => this.shapeLength(i, depth - 1));
        return parts.every((p) => p !== undefined) ? parts.reduce((a, b) => a! + b!, 0) : undefined;
      }
      case 'Unsqueeze':
        return this.rank(ins[0]) === 0 ? 1 : undefined;
      case 'Cast':
      case 'Identity':
        return this.shapeLength(ins[0], depth - 1);
      case 'Shape': {
        if ((node.attribute ?? []).some((a) => a.name === 'start' || a.name === 'end')) return undefined;
        return this.rank(ins[0]);
      }
      default:
        return undefined;
    }
  }

  /** Rank of a tensor: declared, constant, or derived through its producer; undefined when unknown. */
  rank(name: string, depth = 200): number | undefined {
    if (this.ranks.has(name)) return this.ranks.get(name);
    this.ranks.set(name, undefined); // cycle guard
    const r = this.computeRank(name, depth);
    this.ranks.set(name, r);
    return r;
  }

  private computeRank(name: string, depth: number): number | undefined {
    const declared = this.declaredRank.get(name);
    if (declared !== undefined) return declared;
    const c = this.constants.get(name);
    if (c) return (c.dims ?? []).length;
    const node = this.producer.get(name);
    if (!node || depth === 0) return undefined;
    const ins = (node.input ?? []).filter(Boolean);
    const attr = (k: string) => (node.attribute ?? []).find((a) => a.name === k);
    const of = (i: number) => (ins[i] ? this.rank(ins[i], depth - 1) : undefined);
    switch (node.opType) {
      case 'Reshape':
        return this.shapeLength(ins[1], 20);
      case 'Transpose': {
        const perm = attr('perm')?.ints ?? [];
        return perm.length > 0 ? perm.length : of(0);
      }
      case 'Unsqueeze':
      case 'Squeeze': {
        const axes = attr('axes')?.ints?.length
          ? attr('axes')!.ints!
          : ins[1]
            ? this.shapeLength(ins[1], 20)
            : undefined;
        const count = typeof axes === 'number' ? axes : axes?.length;
        const r = of(0);
        if (r === undefined || count === undefined) return undefined;
        return node.opType === 'Unsqueeze' ? r + count : r - count;
      }
      case 'Shape':
      case 'Range':
      case 'NonZero':
        return 1;
      case 'Flatten':
        return 2;
      case 'ConstantOfShape':
        return this.shapeLength(ins[0], 20);
      case 'Gather': {
        const [d, i] = [of(0), of(1)];
        return d === undefined || i === undefined ? undefined : d - 1 + i;
      }
      case 'Expand': {
        const r = of(0);
        const s = this.shapeLength(ins[1], 20);
        return r === undefined || s === undefined ? undefined : Math.max(r, s);
      }
      case 'MatMul':
      case 'FusedMatMul':
      case 'Add':
      case 'Sub':
      case 'Mul':
      case 'Div':
      case 'Pow':
      case 'Where':
      case 'Min':
      case 'Max':
      case 'And':
      case 'Or':
      case 'Equal':
      case 'Less':
      case 'LessOrEqual':
      case 'Greater':
      case 'GreaterOrEqual': {
        const rs = ins.map((_, i) => of(i));
        return rs.every((r) => r !== undefined) ? Math.max(...(rs as number[])) : undefined;
      }
      case 'Softmax':
      case 'Cast':
      case 'Identity':
      case 'Dropout':
      case 'Neg':
      case 'Sqrt':
      case 'Exp':
      case 'Tanh':
      case 'Sin':
      case 'Cos':
      case 'Not':
      case 'Sigmoid':
      case 'Relu':
      case 'Abs':
      case 'Reciprocal':
      case 'Trilu':
      case 'Erf':
      case 'Slice':
      case 'Split':
      case 'Concat':
        return of(0);
      default:
        return undefined;
    }
  }

  /** The graph inputs whose values `tensor` depends on (its upstream cone). Shapes are not values: Shape, Size and
   * ConstantOfShape end the walk, and Reshape / Expand / Slice / Unsqueeze … follow their data input only, so a
   * cross-attention key reshaped with the decoder's batch size still depends on encoder states only. */
  inputCone(tensor: string): Set<string> {
    const found = new Set<string>();
    const seen = new Set<string>();
    const stack = [tensor];
    while (stack.length > 0) {
      const t = stack.pop()!;
      if (seen.has(t)) continue;
      seen.add(t);
      if (this.inputs.has(t)) found.add(t);
      const node = this.producer.get(t);
      if (!node || SHAPE_ONLY_OPS.has(node.opType ?? '')) continue;
      const ins = DATA_FIRST_OPS.has(node.opType ?? '') ? (node.input ?? []).slice(0, 1) : (node.input ?? []);
      for (const i of ins) if (i) stack.push(i);
    }
    return found;
  }
}
