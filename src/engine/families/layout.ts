/**
 * @file Does a loaded folder's graphs compute the model its config.json describes? The row width of `image_features`
 * (vision graph), `inputs_embeds` (embedding graph output, decoder input) must be hidden_size × the family's feature
 * column blocks (models/CONTRACT.md): a Qwen3-VL export made by a tool that drops DeepStack has rows `hidden` wide,
 * and transformers.js runs it without complaint — the answers and the attention are then not the model's. Read once
 * at load from the ONNX sessions' input/output metadata; symbolic or absent dims are not judged.
 */
import type { ModelFamily } from './types.ts';

/** transformers.js's ONNX file suffix per dtype: `onnx/<session><suffix>.onnx`. */
const DTYPE_SUFFIX: Record<string, string> = {
  fp32: '',
  fp16: '_fp16',
  int8: '_int8',
  uint8: '_uint8',
  q8: '_quantized',
  q4: '_q4',
  q4f16: '_q4f16',
  bnb4: '_bnb4',
};

/** The file suffix of a dtype's ONNX graphs (`_<dtype>` for one transformers.js has no special name for). */
export function dtypeFileSuffix(dtype: string): string {
  return DTYPE_SUFFIX[dtype] ?? `_${dtype}`;
}

/** The ONNX Runtime session fields read here (onnxruntime-node and onnxruntime-web both have them). */
interface SessionMetadata {
  inputMetadata?: ReadonlyArray<{ name: string; isTensor?: boolean; shape?: ReadonlyArray<number | string> }>;
  outputMetadata?: ReadonlyArray<{ name: string; isTensor?: boolean; shape?: ReadonlyArray<number | string> }>;
}

/** The feature row width each graph declares (undefined when the graph, the value or a numeric last dim is absent). */
export interface FeatureRowWidths {
  image_features?: number;
  embed_tokens?: number;
  decoder?: number;
}

function lastDim(meta: SessionMetadata['inputMetadata'], name: string): number | undefined {
  const shape = meta?.find((m) => m.name === name)?.shape;
  const d = shape?.[shape.length - 1];
  return typeof d === 'number' && d > 0 ? d : undefined;
}

/** Row widths from transformers.js's sessions of a Qwen-VL model (vision_encoder, embed_tokens, decoder_model_merged). */
export function featureRowWidths(sessions: Record<string, SessionMetadata | undefined>): FeatureRowWidths {
  const decoder = sessions.decoder_model_merged ?? sessions.model;
  return {
    image_features: lastDim(sessions.vision_encoder?.outputMetadata, 'image_features'),
    embed_tokens: lastDim(sessions.embed_tokens?.outputMetadata, 'inputs_embeds'),
    decoder: lastDim(decoder?.inputMetadata, 'inputs_embeds'),
  };
}

/** The fix for a folder whose graphs do not carry what its config lists. */
export const REEXPORT_FIX = 're-export the checkpoint with `python -m sayo_train export <checkpoint> --out <folder>`';

/**
 * What to tell the user when the graphs' feature rows do not have the width config.json implies (undefined when they
 * do, or when nothing numeric can be compared). The model still loads and answers.
 */
export function layoutNote(
  family: ModelFamily,
  config: Record<string, any>,
  widths: FeatureRowWidths,
): string | undefined {
  const hidden = Number(config.text_config?.hidden_size ?? config.hidden_size);
  if (!(hidden > 0)) return undefined;
  const columns = family.featureColumns(config);
  const want = hidden * columns;
  const seen = Object.entries(widths).filter((e): e is [string, number] => typeof e[1] === 'number');
  if (seen.every(([, w]) => w === want)) return undefined;
  const deepstack = family.deepstackIndexes(config);
  const where = seen.map(([g, w]) => `${g} ${w}`).join(', ');
  if (deepstack.length && seen.every(([, w]) => w === hidden)) {
    return (
      `This model runs without DeepStack: config.json lists vision_config.deepstack_visual_indexes ` +
      `${JSON.stringify(deepstack)}, but its graphs carry no DeepStack features (feature rows ${hidden} wide, not ` +
      `${hidden} × ${columns} = ${want}), so its answers and attention are not the model's. To fix it, ${REEXPORT_FIX}, ` +
      `which carries them.`
    );
  }
  return (
    `The graphs' feature rows (${where}) are not the ${want} columns config.json implies ` +
    `(hidden_size ${hidden} × ${columns} block${columns > 1 ? 's' : ''}${deepstack.length ? `, DeepStack ${JSON.stringify(deepstack)}` : ''}): ` +
    `the graphs do not compute the model config.json describes, so its answers and attention are not the model's. ` +
    `To fix it, ${REEXPORT_FIX}.`
  );
}
