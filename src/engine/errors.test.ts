/**
 * @file Bad input in Node, on real temp folders and real ONNX Runtime errors: each case gets its EngineError code and
 * a readable message, and the same engine still loads and answers afterwards.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import onnxProto from 'onnx-proto';
import { afterAll, describe, expect, it } from 'vitest';
import { runExposeAttention } from '../cli/commands/expose-attention.ts';
import { toEngineError } from './errors.ts';
import { createNodeEngine, DEFAULT_MODELS_DIR } from './node.ts';
import { EngineError, type ImageInput, type StepRecord } from './types.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const SAMPLE: ImageInput = {
  kind: 'encoded',
  bytes: new Uint8Array(fs.readFileSync(path.join(ROOT, 'public/samples/sample-02.png'))),
};
const QUESTION = 'What color is the object left of the purple circle?';
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sayo-engine-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const engine = createNodeEngine();

/** A fresh copy of the embedded SAYO-mini folder. */
function copyMini(name: string): string {
  const dir = path.join(tmp, name);
  fs.cpSync(path.join(DEFAULT_MODELS_DIR, 'sayo-mini'), dir, { recursive: true });
  return dir;
}

async function expectCode(p: Promise<unknown>, code: string, text: RegExp): Promise<EngineError> {
  const err = await p.then(
    () => undefined,
    (e) => e,
  );
  expect(err).toBeInstanceOf(EngineError);
  expect((err as EngineError).code).toBe(code);
  expect((err as EngineError).message).toMatch(text);
  return err as EngineError;
}

/** The engine still loads the real model and answers. */
async function stillWorks(): Promise<void> {
  const info = await engine.load({ kind: 'registry', id: 'sayo-mini' });
  const s = await engine.generate(info.handle, { image: SAMPLE, question: QUESTION, maxNewTokens: 2 }, {});
  expect(s.tokens).toBeGreaterThan(0);
  await engine.unload(info.handle);
}

describe('engine errors', () => {
  it('a missing model folder', async () => {
    await expectCode(
      engine.load({ kind: 'path', path: path.join(tmp, 'nowhere') }),
      'missing_file',
      /Model folder not found/,
    );
  });

  it('a missing file in the folder', async () => {
    const dir = copyMini('missing');
    fs.rmSync(path.join(dir, 'onnx/embed_tokens.onnx'));
    await expectCode(engine.load({ kind: 'path', path: dir }), 'missing_file', /embed_tokens\.onnx/);
    await stillWorks();
  });

  it('a corrupt ONNX file', async () => {
    const dir = copyMini('corrupt');
    const f = path.join(dir, 'onnx/decoder_model_merged.onnx');
    fs.writeFileSync(f, fs.readFileSync(f).subarray(0, 5000));
    await expectCode(engine.load({ kind: 'path', path: dir }), 'corrupt_model', /could not be read as ONNX/);
    await stillWorks();
  });

  it('an unsupported architecture', async () => {
    const dir = copyMini('llava');
    const cfgFile = path.join(dir, 'config.json');
    fs.writeFileSync(cfgFile, JSON.stringify({ ...JSON.parse(fs.readFileSync(cfgFile, 'utf8')), model_type: 'llava' }));
    await expectCode(engine.load({ kind: 'path', path: dir }), 'unsupported_architecture', /"llava".*qwen2_vl/);
    await stillWorks();
  });

  it('a model without attention outputs still answers and says how to add them', async () => {
    const dir = copyMini('no-attention');
    const f = path.join(dir, 'onnx/decoder_model_merged.onnx');
    // the same trained decoder exported without attention outputs (the export stage writes it beside the pair)
    fs.copyFileSync(path.join(ROOT, 'fixtures/onnx/sayo-mini-decoder-noattn.onnx'), f);
    const bare = await engine.load({ kind: 'path', path: dir });
    expect(bare.attentionLayers).toEqual([]);
    expect(bare.attentionNote).toMatch(/npx sayo expose-attention/);
    const full = await engine.load({ kind: 'registry', id: 'sayo-mini' });
    const run = async (handle: string) => {
      const steps: StepRecord[] = [];
      await engine.generate(
        handle,
        { image: SAMPLE, question: QUESTION, maxNewTokens: 5 },
        { onStep: (s) => steps.push(s) },
      );
      return steps;
    };
    const [a, b] = [await run(bare.handle), await run(full.handle)];
    expect(a.map((s) => s.tokenId)).toEqual(b.map((s) => s.tokenId));
    expect(a.every((s) => s.attention.length === 0 && s.layers.length === 0)).toBe(true);
    await engine.unload(bare.handle);

    // Following the note's advice restores the capture: same tokens, same attention.
    await runExposeAttention(f, `${f}.exposed`, { layers: 'all', reduce: 'none' });
    fs.renameSync(`${f}.exposed`, f);
    const fixed = await engine.load({ kind: 'path', path: dir });
    expect(fixed.attentionLayers).toEqual(full.attentionLayers);
    const c = await run(fixed.handle);
    expect(c.map((s) => s.tokenId)).toEqual(b.map((s) => s.tokenId));
    c.forEach((s, i) => s.attention.forEach((v, k) => expect(Math.abs(v - b[i].attention[k])).toBeLessThan(1e-6)));
    await engine.unload(fixed.handle);
    await engine.unload(full.handle);
  });

  it('a broken image, raw pixels of the wrong size, an empty question, an unknown handle', async () => {
    const info = await engine.load({ kind: 'registry', id: 'sayo-mini' });
    const gen = (image: ImageInput, question = QUESTION) =>
      engine.generate(info.handle, { image, question, maxNewTokens: 2 }, {});
    await expectCode(
      gen({ kind: 'encoded', bytes: new Uint8Array([0x89, 0x50, 0x4e, 0x47, 1, 2, 3, 4]) }),
      'bad_image',
      /could not be decoded/,
    );
    await expectCode(
      gen({ kind: 'rgba', width: 10, height: 10, data: new Uint8ClampedArray(12) }),
      'bad_image',
      /10×10×4/,
    );
    await expectCode(
      gen({ kind: 'rgba', width: 2000, height: 4, data: new Uint8ClampedArray(2000 * 4 * 4) }),
      'bad_image',
      /aspect|ratio/i,
    );
    await expectCode(gen(SAMPLE, '   '), 'bad_input', /question is empty/);
    await expectCode(
      engine.generate('m999', { image: SAMPLE, question: QUESTION }, {}),
      'bad_input',
      /No model is loaded/,
    );
    expect((await gen(SAMPLE)).tokens).toBeGreaterThan(0);
    await engine.unload(info.handle);
  });

  it('maps a real ONNX Runtime allocation failure to out_of_memory', async () => {
    // A one-node graph (ConstantOfShape) asked for a 4 TB tensor: onnxruntime-node's allocator refuses it.
    const { onnx } = onnxProto;
    const model = onnx.ModelProto.create({
      irVersion: 8,
      opsetImport: [{ domain: '', version: 17 }],
      graph: {
        name: 'oom',
        node: [{ opType: 'ConstantOfShape', input: ['shape'], output: ['y'] }],
        input: [
          {
            name: 'shape',
            type: { tensorType: { elemType: onnx.TensorProto.DataType.INT64, shape: { dim: [{ dimValue: 2 }] } } },
          },
        ],
        output: [{ name: 'y', type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT } } }],
      },
    });
    const session = await ort.InferenceSession.create(onnx.ModelProto.encode(model).finish());
    const err = await session
      .run({ shape: new ort.Tensor('int64', BigInt64Array.from([1_000_000n, 1_000_000n]), [2]) })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).toBeDefined();
    const mapped = toEngineError(err);
    expect(mapped.code).toBe('out_of_memory');
    expect(mapped.message).toMatch(/Out of memory/);
    await session.release();
  });
});
