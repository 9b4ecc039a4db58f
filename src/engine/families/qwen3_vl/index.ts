/**
 * @file Qwen3-VL (qwen3_vl): Qwen2.5-VL's loading and geometry with 16 px patches (32 px cells), plus DeepStack — the
 * vision tower's features from blocks `vision_config.deepstack_visual_indexes`, each through its own merger, added to
 * the decoder's hidden states after layers 0, 1, … at the image positions. An export carries them as extra column
 * blocks of `image_features` and `inputs_embeds` (models/CONTRACT.md, "DeepStack"), so transformers.js's own
 * Qwen3VLForConditionalGeneration merges and feeds them with no code of ours: the family only says how wide the rows
 * are, which `sayo inspect` and the engine's load check compare with the graphs.
 */
import { Qwen3VLForConditionalGeneration } from '@huggingface/transformers';
import { makeFamily } from '../qwen2_vl/index.ts';
import type { ModelFamily } from '../types.ts';

/** DeepStack vision block indexes of a Qwen3-VL config.json ([] when absent). */
function deepstackIndexes(config: Record<string, any>): number[] {
  const ds = config.vision_config?.deepstack_visual_indexes;
  return Array.isArray(ds) ? ds.map(Number) : [];
}

export const qwen3VlFamily: ModelFamily = {
  ...makeFamily('qwen3_vl', Qwen3VLForConditionalGeneration, 16, 'image_grid_thw'),
  featureColumns: (config) => 1 + deepstackIndexes(config).length,
  deepstackIndexes,
};
