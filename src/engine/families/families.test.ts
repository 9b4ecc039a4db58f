/**
 * @file Family geometry from real config shapes: Qwen2/2.5-VL 14 px patches → 28 px cells, Qwen3-VL 16 px → 32 px;
 * text fields read at the top level (qwen2_vl) or from text_config (qwen2_5_vl, qwen3_vl).
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { familyFor, supportedModelTypes } from './index.ts';

const MINI = path.resolve(import.meta.dirname, '../../../models/sayo-mini');
const read = (f: string) => JSON.parse(fs.readFileSync(path.join(MINI, f), 'utf8'));

describe('model families', () => {
  it('serves the three Qwen VL types and nothing else', () => {
    expect(supportedModelTypes().sort()).toEqual(['qwen2_5_vl', 'qwen2_vl', 'qwen3_vl']);
    expect(familyFor('llava')).toBeUndefined();
  });

  it("names the vision graph's grid input as each transformers.js class feeds it", async () => {
    const tjs = await import('@huggingface/transformers');
    const classes = {
      qwen2_vl: tjs.Qwen2VLForConditionalGeneration,
      qwen2_5_vl: tjs.Qwen2_5_VLForConditionalGeneration,
      qwen3_vl: tjs.Qwen3VLForConditionalGeneration,
    } as const;
    for (const [type, cls] of Object.entries(classes)) {
      const feeds = (new (cls as any)({}, {}, {}) as { image_grid_thw_name: string }).image_grid_thw_name;
      expect(familyFor(type)!.gridInput, type).toBe(feeds);
    }
  });

  it('reads SAYO-mini (qwen3_vl with DeepStack): 32 px cells, layers and heads from text_config', () => {
    const config = read('config.json');
    expect(config.model_type).toBe('qwen3_vl');
    const f = familyFor(config.model_type)!;
    const g = f.geometry(config, read('preprocessor_config.json'));
    expect(g.patch_size * g.merge_size).toBe(32);
    expect(f.numLayers(config)).toBe(config.text_config.num_hidden_layers);
    expect(f.imageTokenId(config)).toBe(config.image_token_id);
    expect(f.deepstackIndexes(config).length).toBeGreaterThan(0);
    expect(f.featureColumns(config)).toBe(1 + f.deepstackIndexes(config).length);
  });

  it('gives Qwen3-VL its 32 px geometry, from the processor or the vision config', () => {
    const f = familyFor('qwen3_vl')!;
    const config = {
      model_type: 'qwen3_vl',
      image_token_id: 151655,
      vision_config: { patch_size: 16, spatial_merge_size: 2 },
      text_config: { num_hidden_layers: 36, num_attention_heads: 32 },
    };
    const fromProcessor = f.geometry(config, {
      patch_size: 16,
      merge_size: 2,
      size: { shortest_edge: 65536, longest_edge: 16777216 },
    });
    expect(fromProcessor).toEqual({ patch_size: 16, merge_size: 2, min_pixels: 65536, max_pixels: 16777216 });
    const fromVision = f.geometry(config, {});
    expect(fromVision.patch_size * fromVision.merge_size).toBe(32);
    expect(f.numLayers(config)).toBe(36);
    expect(f.numHeads(config)).toBe(32);
  });

  it("counts Qwen3-VL's DeepStack column blocks from its config; other families have one", () => {
    const ds = { model_type: 'qwen3_vl', vision_config: { deepstack_visual_indexes: [8, 16, 24] } };
    expect(familyFor('qwen3_vl')!.featureColumns(ds)).toBe(4);
    expect(familyFor('qwen3_vl')!.deepstackIndexes(ds)).toEqual([8, 16, 24]);
    expect(familyFor('qwen3_vl')!.featureColumns({ vision_config: { deepstack_visual_indexes: [] } })).toBe(1);
    expect(familyFor('qwen3_vl')!.featureColumns({})).toBe(1);
    expect(familyFor('qwen2_5_vl')!.featureColumns(ds)).toBe(1);
  });
});
