/**
 * @file The state the engine keeps for one loaded checkpoint.
 */
import type { ModelFamily, ProcessorGeometryConfig } from './families/index.ts';
import type { LoadOptions, ModelInfo, ModelSource } from './types.ts';

/** One decoder attention output exposed by the graph. */
export interface AttentionOutput {
  name: string;
  layer: number;
}

/** A loaded checkpoint: transformers.js objects plus what the engine derived from them. */
export interface LoadedModel {
  info: ModelInfo;
  source: ModelSource;
  options: LoadOptions;
  family: ModelFamily;
  config: Record<string, any>;
  /** transformers.js model (Qwen2VLForConditionalGeneration or a subclass). */
  model: any;
  /** transformers.js processor (image processor + tokenizer + chat template). */
  processor: any;
  tokenizer: any;
  geometry: ProcessorGeometryConfig;
  imageTokenId: number;
  eosIds: Set<number>;
  vocabSize: number;
  /** Sorted by layer. */
  attentionOutputs: AttentionOutput[];
  /** Serialises runs on this model. */
  queue: Promise<unknown>;
  releaseSource(): void;
}
