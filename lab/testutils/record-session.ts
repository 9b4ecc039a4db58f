/**
 * @file Test helper run in plain Node (`npx tsx lab/testutils/record-session.ts [sampleIndex]`): runs the real
 * SAYO-mini pair on a bundled sample through the app's own commands and prints the resulting session JSON.
 * Component tests under happy-dom use it because transformers.js takes its browser image path there.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Box } from '../../src/core/geometry.ts';
import { createNodeEngine } from '../../src/engine/node.ts';
import { createCommands } from '../../src/state/effects.ts';
import { buildSession } from '../../src/state/session.ts';
import { createLensStore } from '../../src/state/store.ts';
import { serializeSession } from '../../src/session/serialize.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');

/** Runs both models on sample `index` and returns the session JSON. */
export async function recordSession(index = 0): Promise<string> {
  const samples = JSON.parse(fs.readFileSync(path.join(ROOT, 'public/samples/samples.json'), 'utf8')) as {
    image: string;
    question: string;
    boxes: Box[];
  }[];
  const s = samples[index];
  const file = path.join(ROOT, 'public/samples', s.image);
  const { width, height } = readPngSize(fs.readFileSync(file));
  const store = createLensStore();
  store.getState().setImage({
    name: s.image,
    width,
    height,
    dataUrl: `data:image/png;base64,${fs.readFileSync(file).toString('base64')}`,
  });
  store.getState().setQuestion(s.question);
  store.getState().setBoxes(s.boxes);
  await createCommands(createNodeEngine(), store).run();
  const errors = store.getState().errors;
  if (errors.length) throw new Error(errors.map((e) => e.message).join('; '));
  return serializeSession(buildSession(store.getState())!);
}

/** Width and height from a PNG's IHDR chunk. */
export function readPngSize(bytes: Uint8Array): { width: number; height: number } {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { width: v.getUint32(16), height: v.getUint32(20) };
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) {
  recordSession(Number(process.argv[2] ?? 0)).then(
    (text) => process.stdout.write(text),
    (e: Error) => {
      process.stderr.write(`${e.message}\n`);
      process.exit(1);
    },
  );
}
