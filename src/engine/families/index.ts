/**
 * @file Model families by `model_type`. Adding an architecture = one folder here plus one line below.
 */
import { qwen2VlFamilies } from './qwen2_vl/index.ts';
import { qwen3VlFamily } from './qwen3_vl/index.ts';
import type { ModelFamily } from './types.ts';

export type { ModelFamily, ProcessorGeometryConfig } from './types.ts';

const FAMILIES = new Map<string, ModelFamily>([...qwen2VlFamilies, qwen3VlFamily].map((f) => [f.modelType, f]));

/** The family serving `modelType`, or undefined. */
export function familyFor(modelType: string): ModelFamily | undefined {
  return FAMILIES.get(modelType);
}

/** Supported model types, for error messages. */
export function supportedModelTypes(): string[] {
  return [...FAMILIES.keys()];
}
