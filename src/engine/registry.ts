/**
 * @file The model registry (models/registry.json): the embedded SAYO-mini pair (default), real checkpoints by URL
 * with precision choices, and slots for checkpoints awaiting an export.
 */
import registryJson from '../../models/registry.json' with { type: 'json' };

/** One precision choice: a transformers.js dtype (string or per-session map). */
export interface Precision {
  id: string;
  label: string;
  dtype: string | Record<string, string>;
  /** Adapter feature needed (e.g. 'shader-f16'). */
  requires?: string;
}

/** One registry entry. */
export interface RegistryEntry {
  id: string;
  name: string;
  kind: 'embedded' | 'url' | 'slot';
  /** embedded: folder under models/. */
  path?: string;
  /** url: base URL of the HF-layout folder (ends with '/'); slot: null until an export exists. */
  url?: string | null;
  revision?: string;
  modelType: string;
  description: string;
  precisions: Precision[];
}

interface RegistryFile {
  default: [string, string];
  models: RegistryEntry[];
}

const registry = registryJson as unknown as RegistryFile;

/** All entries, in file order. */
export function registryEntries(): RegistryEntry[] {
  return registry.models;
}

/** The entry with this id, or undefined. */
export function registryEntry(id: string): RegistryEntry | undefined {
  return registry.models.find((m) => m.id === id);
}
