/**
 * @file The onnxruntime-node reference for browser parity tests: the same engine code on native CPU, in the test
 * process, and an image whose sides are already whole cells of the embedded model (no resize, so canvas and sharp see
 * equal pixels).
 */
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { createNodeEngine } from '../../src/engine/node.ts';
import type { StepRecord } from '../../src/engine/types.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');

/**
 * sample-01 resized to the largest square of whole cells (patch_size × merge_size, read from the embedded model's
 * processor) at most 308 px a side that the processor accepts unchanged (max_pixels): no processor resize, so
 * Chromium's canvas and Node's sharp feed identical pixels.
 */
export async function parityImage(): Promise<Buffer> {
  const sharp = createRequire(path.join(ROOT, 'package.json'))('sharp');
  const pp = JSON.parse(fs.readFileSync(path.join(ROOT, 'models/sayo-mini/preprocessor_config.json'), 'utf8'));
  const cell = pp.patch_size * pp.merge_size;
  const side = Math.floor(Math.min(308, Math.sqrt(pp.max_pixels ?? pp.size.longest_edge)) / cell) * cell;
  return sharp(fs.readFileSync(path.join(ROOT, 'public/samples/sample-01.png')))
    .resize(side, side, { fit: 'fill' })
    .removeAlpha()
    .png()
    .toBuffer();
}

/** Greedy steps from onnxruntime-node for a registry model, image and question. */
export async function nodeSteps(
  id: string,
  image: Buffer,
  question: string,
  maxNewTokens: number,
): Promise<StepRecord[]> {
  const engine = createNodeEngine();
  const info = await engine.load({ kind: 'registry', id });
  const steps: StepRecord[] = [];
  await engine.generate(
    info.handle,
    { image: { kind: 'encoded', bytes: new Uint8Array(image) }, question, maxNewTokens },
    {
      onStep: (s) => steps.push(s),
    },
  );
  await engine.unload(info.handle);
  return steps;
}

/** Largest |a − b| over two equal-length arrays. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
