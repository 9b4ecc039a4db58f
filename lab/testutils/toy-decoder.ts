/**
 * @file A small but real attention decoder built with onnx-proto, for tests of the ONNX tools: per layer
 * `MatMul(Q, Kᵀ) → Mul(scale) → Add(mask) → Softmax → MatMul(·, V)` with a KV cache (`past_key_values.<l>.*` →
 * `present.<l>.*`), optionally with native `decoder_attentions.<l>` outputs, a fused MultiHeadAttention variant, and
 * weights stored inline or as external data. onnxruntime-node runs it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { onnx, type NodeProto, type TensorProto } from '../../src/cli/onnx/model.ts';

/** Shape of the toy decoder. */
export interface ToyDecoderSpec {
  layers: number;
  heads: number;
  headDim: number;
  /** Add native `decoder_attentions.<l>` outputs (Identity of each Softmax). */
  attentionOutputs?: boolean;
  /** Replace layer 0's attention with a com.microsoft MultiHeadAttention node (not runnable: for refusal tests). */
  fused?: boolean;
  /** Also compute each layer's last query row a second time from the last query (its own Q·Kᵀ → Softmax → ·V), that
   * row's context replacing the last row of the layer's: two self-attention Softmax nodes per layer, as in the SAYO-mini
   * pair's first export (for refusal tests). */
  rowSoftmax?: boolean;
  /** Compute the Softmax in float64 between two Casts (as fp16 exports do in fp32): the probabilities are DOUBLE. */
  doubleSoftmax?: boolean;
  /** Store the weights in `<file>.onnx_data` instead of inline. */
  externalData?: boolean;
  opset?: number;
  seed?: number;
}

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return ((s >>> 0) / 0x100000000) * 2 - 1;
  };
}

const FLOAT = onnx.TensorProto.DataType.FLOAT;
const INT64 = onnx.TensorProto.DataType.INT64;

function valueInfo(name: string, elemType: number, dims: Array<number | string>) {
  const dim = dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d }));
  return onnx.ValueInfoProto.create({ name, type: { tensorType: { elemType, shape: { dim } } } });
}

function node(
  opType: string,
  input: string[],
  output: string[],
  attrs: Record<string, number | number[]> = {},
  domain = '',
): NodeProto {
  const attribute = Object.entries(attrs).map(([name, v]) =>
    Array.isArray(v)
      ? onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INTS, ints: v })
      : Number.isInteger(v)
        ? onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INT, i: v })
        : onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.FLOAT, f: v }),
  );
  return onnx.NodeProto.create({ name: `${opType}_${output[0]}`, opType, input, output, attribute, domain });
}

/** Build the toy decoder and write it to `file` (plus `<file>_data` when `externalData`). */
export function writeToyDecoder(file: string, spec: ToyDecoderSpec): void {
  const { layers, heads, headDim } = spec;
  const hidden = heads * headDim;
  const rand = rng(spec.seed ?? 7);
  const initializers: TensorProto[] = [];
  const weights: Array<{ tensor: TensorProto; data: Float32Array }> = [];
  const weight = (name: string, rows: number, cols: number) => {
    const data = Float32Array.from({ length: rows * cols }, () => rand() * 0.5);
    const tensor = onnx.TensorProto.create({ name, dims: [rows, cols], dataType: FLOAT });
    weights.push({ tensor, data });
    initializers.push(tensor);
    return name;
  };
  initializers.push(
    onnx.TensorProto.create({ name: 'split_shape', dims: [4], dataType: INT64, int64Data: [0, -1, heads, headDim] }),
  );
  initializers.push(
    onnx.TensorProto.create({ name: 'merge_shape', dims: [3], dataType: INT64, int64Data: [0, -1, hidden] }),
  );
  if (spec.rowSoftmax) {
    // Slice bounds on axis 2 (queries): [-1, end) is the last row, [0, -1) the others.
    for (const [name, v] of [
      ['row_first', 0],
      ['row_last', -1],
      ['row_end', 2 ** 31 - 1],
      ['row_axis', 2],
    ] as const) {
      initializers.push(onnx.TensorProto.create({ name, dims: [1], dataType: INT64, int64Data: [v] }));
    }
  }
  const nodes: NodeProto[] = [];
  const outputs = [valueInfo('logits', FLOAT, ['batch_size', 'sequence_length', hidden])];
  const inputs = [
    valueInfo('inputs_embeds', FLOAT, ['batch_size', 'sequence_length', hidden]),
    valueInfo('attention_bias', FLOAT, ['batch_size', 1, 'sequence_length', 'total_sequence_length']),
  ];
  let x = 'inputs_embeds';
  for (let l = 0; l < layers; l++) {
    const t = (s: string) => `l${l}_${s}`;
    inputs.push(valueInfo(`past_key_values.${l}.key`, FLOAT, ['batch_size', heads, 'past_sequence_length', headDim]));
    inputs.push(valueInfo(`past_key_values.${l}.value`, FLOAT, ['batch_size', heads, 'past_sequence_length', headDim]));
    for (const p of ['q', 'k', 'v']) {
      nodes.push(node('MatMul', [x, weight(t(`w${p}`), hidden, hidden)], [t(`${p}_flat`)]));
      nodes.push(node('Reshape', [t(`${p}_flat`), 'split_shape'], [t(`${p}_split`)]));
      nodes.push(node('Transpose', [t(`${p}_split`)], [t(p)], { perm: [0, 2, 1, 3] }));
    }
    nodes.push(node('Concat', [`past_key_values.${l}.key`, t('k')], [`present.${l}.key`], { axis: 2 }));
    nodes.push(node('Concat', [`past_key_values.${l}.value`, t('v')], [`present.${l}.value`], { axis: 2 }));
    outputs.push(valueInfo(`present.${l}.key`, FLOAT, ['batch_size', heads, 'total_sequence_length', headDim]));
    outputs.push(valueInfo(`present.${l}.value`, FLOAT, ['batch_size', heads, 'total_sequence_length', headDim]));
    if (spec.fused && l === 0) {
      nodes.push(
        node(
          'MultiHeadAttention',
          [t('q'), `present.${l}.key`, `present.${l}.value`],
          [t('ctx')],
          { num_heads: heads },
          'com.microsoft',
        ),
      );
    } else {
      nodes.push(node('Transpose', [`present.${l}.key`], [t('kt')], { perm: [0, 1, 3, 2] }));
      nodes.push(node('MatMul', [t('q'), t('kt')], [t('scores')]));
      initializers.push(
        onnx.TensorProto.create({ name: t('scale'), dims: [], dataType: FLOAT, floatData: [1 / Math.sqrt(headDim)] }),
      );
      nodes.push(node('Mul', [t('scores'), t('scale')], [t('scaled')]));
      nodes.push(node('Add', [t('scaled'), 'attention_bias'], [t('masked')]));
      if (spec.doubleSoftmax) {
        nodes.push(node('Cast', [t('masked')], [t('masked64')], { to: onnx.TensorProto.DataType.DOUBLE }));
        nodes.push(node('Softmax', [t('masked64')], [t('probs')], { axis: -1 }));
        nodes.push(node('Cast', [t('probs')], [t('probs32')], { to: FLOAT }));
      } else {
        nodes.push(node('Softmax', [t('masked')], [t('probs')], { axis: -1 }));
      }
      nodes.push(
        node(
          'MatMul',
          [spec.doubleSoftmax ? t('probs32') : t('probs'), `present.${l}.value`],
          [spec.rowSoftmax ? t('ctx_all') : t('ctx')],
        ),
      );
      if (spec.rowSoftmax) {
        nodes.push(node('Slice', [t('q'), 'row_last', 'row_end', 'row_axis'], [t('q_last')]));
        nodes.push(node('MatMul', [t('q_last'), t('kt')], [t('row_scores')]));
        nodes.push(node('Mul', [t('row_scores'), t('scale')], [t('row_scaled')]));
        nodes.push(node('Slice', ['attention_bias', 'row_last', 'row_end', 'row_axis'], [t('row_bias')]));
        nodes.push(node('Add', [t('row_scaled'), t('row_bias')], [t('row_masked')]));
        nodes.push(node('Softmax', [t('row_masked')], [t('row_probs')], { axis: -1 }));
        nodes.push(node('MatMul', [t('row_probs'), `present.${l}.value`], [t('row_ctx')]));
        nodes.push(node('Slice', [t('ctx_all'), 'row_first', 'row_last', 'row_axis'], [t('ctx_head')]));
        nodes.push(node('Concat', [t('ctx_head'), t('row_ctx')], [t('ctx')], { axis: 2 }));
      }
      if (spec.attentionOutputs) {
        nodes.push(node('Identity', [t('probs')], [`decoder_attentions.${l}`]));
        outputs.push(
          valueInfo(`decoder_attentions.${l}`, FLOAT, [
            'batch_size',
            heads,
            'sequence_length',
            'total_sequence_length',
          ]),
        );
      }
    }
    nodes.push(node('Transpose', [t('ctx')], [t('ctx_t')], { perm: [0, 2, 1, 3] }));
    nodes.push(node('Reshape', [t('ctx_t'), 'merge_shape'], [t('ctx_m')]));
    nodes.push(node('MatMul', [t('ctx_m'), weight(t('wo'), hidden, hidden)], [t('o')]));
    nodes.push(node('Add', [x, t('o')], [t('out')]));
    x = t('out');
  }
  nodes.push(node('Identity', [x], ['logits']));
  if (spec.externalData) {
    const dataName = `${path.basename(file)}_data`;
    const chunks: Buffer[] = [];
    let offset = 0;
    for (const { tensor, data } of weights) {
      const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
      tensor.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
      tensor.externalData = [
        { key: 'location', value: dataName },
        { key: 'offset', value: String(offset) },
        { key: 'length', value: String(bytes.length) },
      ];
      chunks.push(bytes);
      offset += bytes.length;
    }
    fs.writeFileSync(path.join(path.dirname(file), dataName), Buffer.concat(chunks));
  } else {
    for (const { tensor, data } of weights) tensor.floatData = Array.from(data);
  }
  const opsetImport = [{ domain: '', version: spec.opset ?? 17 }];
  if (spec.fused) opsetImport.push({ domain: 'com.microsoft', version: 1 });
  const graph = onnx.GraphProto.create({
    name: 'toy_decoder',
    node: nodes,
    initializer: initializers,
    input: inputs,
    output: outputs,
  });
  const model = onnx.ModelProto.create({ irVersion: 8, producerName: 'sayo-toy', opsetImport, graph });
  fs.writeFileSync(file, onnx.ModelProto.encode(model).finish());
}
