/**
 * @file The Qwen2-VL family (qwen2_vl, qwen2_5_vl): which transformers.js class loads it and where its geometry and
 * special tokens live; 14 px patches × 2×2 merge = 28 px cells. The numbers come from the checkpoint's own
 * config.json / preprocessor_config.json, never from constants here. Qwen3-VL (../qwen3_vl) builds on it.
 */
import { Qwen2VLForConditionalGeneration, Qwen2_5_VLForConditionalGeneration } from '@huggingface/transformers';
import type { ModelFamily, ProcessorGeometryConfig } from '../types.ts';

type AnyConfig = Record<string, any>;

/** Reads a text-model field from the top level (qwen2_vl) or from text_config (qwen2_5_vl / qwen3_vl). */
function textField(config: AnyConfig, key: string): number | undefined {
  return config[key] ?? config.text_config?.[key];
}

/** Geometry of the image processor config (min/max pixels may live in `size`). */
function processorGeometry(pp: AnyConfig, config: AnyConfig, defaultPatch: number): ProcessorGeometryConfig {
  const patch_size = Number(pp.patch_size ?? config.vision_config?.patch_size ?? defaultPatch);
  const merge_size = Number(pp.merge_size ?? config.vision_config?.spatial_merge_size ?? 2);
  const min_pixels = Number(pp.min_pixels ?? pp.size?.shortest_edge ?? 56 * 56);
  const max_pixels = Number(pp.max_pixels ?? pp.size?.longest_edge ?? 28 * 28 * 1280);
  return { patch_size, merge_size, min_pixels, max_pixels };
}

export function makeFamily(
  modelType: string,
  cls: { from_pretrained: (...a: any[]) => Promise<any> },
  defaultPatch: number,
  gridInput: ModelFamily['gridInput'],
): ModelFamily {
  return {
    modelType,
    gridInput,
    loadModel: (id, options) => cls.from_pretrained(id, options),
    geometry: (config, pp) => processorGeometry(pp, config, defaultPatch),
    imageTokenId(config) {
      const id = config.image_token_id ?? config.text_config?.image_token_id;
      if (typeof id !== 'number') throw new Error('config.json has no image_token_id');
      return id;
    },
    numLayers: (config) => Number(textField(config, 'num_hidden_layers') ?? 0),
    numHeads: (config) => Number(textField(config, 'num_attention_heads') ?? 0),
    featureColumns: () => 1,
    deepstackIndexes: () => [],
  };
}

/** The two model types this family serves. */
export const qwen2VlFamilies: ModelFamily[] = [
  makeFamily('qwen2_vl', Qwen2VLForConditionalGeneration, 14, 'grid_thw'),
  makeFamily('qwen2_5_vl', Qwen2_5_VLForConditionalGeneration, 14, 'image_grid_thw'),
];
