/**
 * @file What a model family must tell the engine: how to load it and where its geometry and image token live.
 */

/** Processor geometry, the shape src/core's `gridFor` takes. */
export interface ProcessorGeometryConfig {
  patch_size: number;
  merge_size: number;
  min_pixels: number;
  max_pixels: number;
}

/** One supported `model_type`. */
export interface ModelFamily {
  modelType: string;
  /** The vision graph's grid input, as transformers.js's class feeds it (its `image_grid_thw_name`). */
  gridInput: 'grid_thw' | 'image_grid_thw';
  /** Loads the transformers.js model class (sessions) for a model id / path. */
  loadModel(id: string, options: Record<string, unknown>): Promise<any>;
  /** Geometry from config.json and preprocessor_config.json. */
  geometry(config: Record<string, any>, preprocessorConfig: Record<string, any>): ProcessorGeometryConfig;
  imageTokenId(config: Record<string, any>): number;
  numLayers(config: Record<string, any>): number;
  numHeads(config: Record<string, any>): number;
  /**
   * How many hidden-size column blocks the vision graph's `image_features` and the embedding graph's `inputs_embeds`
   * carry: 1, or 1 + K for a model whose vision tower feeds K DeepStack features into the decoder (Qwen3-VL; layout in
   * models/CONTRACT.md, "DeepStack").
   */
  featureColumns(config: Record<string, any>): number;
  /** The DeepStack vision block indexes of config.json ([] when the family or checkpoint has none). */
  deepstackIndexes(config: Record<string, any>): number[];
}
