/**
 * @file The embedded pair's notice on the command line, as the app shows it beside an image that is not a sample:
 * SAYO-mini base and SAYO-mini learned only generated pictures of coloured shapes, so on any other picture their
 * answers and attention are not meaningful, and a real checkpoint is one `--model <folder>` away.
 */
import fs from 'node:fs';
import path from 'node:path';
import { DEFAULT_MODELS_DIR } from '../../engine/node.ts';
import { registryEntries, registryEntry } from '../../engine/registry.ts';
import type { ModelSource } from '../../engine/types.ts';

const REPO = path.dirname(DEFAULT_MODELS_DIR);

/** Folders of this repo that hold generated pictures of the kind the embedded pair was trained on. */
const OWN_PICTURES = [path.join(REPO, 'public', 'samples'), path.join(REPO, 'data')];

/** What the notice says. */
export const EMBEDDED_NOTICE =
  'note: the embedded SAYO-mini models were trained only on synthetic pictures (generated coloured shapes): on a photo ' +
  'their answers and attention are not meaningful. For a real model pass --model <folder> in the model-contract layout ' +
  '(README, "Adding a real checkpoint").';

const real = (p: string) => (fs.existsSync(p) ? fs.realpathSync(p) : path.resolve(p));
const inside = (file: string, dir: string) => !path.relative(real(dir), real(file)).startsWith('..');

/** Whether a `--model` source is one of the embedded models (by registry id or by its folder). */
export function isEmbedded(source: ModelSource): boolean {
  if (source.kind === 'registry') return registryEntry(source.id)?.kind === 'embedded';
  if (source.kind !== 'path') return false;
  return registryEntries().some(
    (e) => e.kind === 'embedded' && e.path && real(path.join(DEFAULT_MODELS_DIR, e.path)) === real(source.path),
  );
}

/** The notice for this model and image file, or null (a real model, or one of the repo's own synthetic pictures). */
export function embeddedNotice(source: ModelSource, imageFile: string): string | null {
  if (!isEmbedded(source)) return null;
  return OWN_PICTURES.some((dir) => inside(imageFile, dir)) ? null : EMBEDDED_NOTICE;
}
