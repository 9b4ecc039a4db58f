/**
 * @file `sayo expose-attention`: the rewritten graph's outputs equal a native export's attention outputs in
 * onnxruntime-node (toy decoder always; the real SAYO-mini decoder when its no-attention export exists), external
 * data keeps working, fused or missing attention is refused, and truncated / mutated files get a clear message.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runExposeAttention } from './commands/expose-attention.ts';
import { CliError } from './lib/errors.ts';
import { hasStackTrace, REPO_ROOT, runSayo } from '../../lab/testutils/run-cli.ts';
import { decoderFeeds, maxAbsDiff } from '../../lab/testutils/onnx-feeds.ts';
import { stripAttentionOutputs } from './onnx/attention.ts';
import { readModel, writeModel } from './onnx/model.ts';
import { writeToyDecoder } from '../../lab/testutils/toy-decoder.ts';

let dir = '';
const spec = { layers: 3, heads: 2, headDim: 4 };

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sayo-expose-'));
  writeToyDecoder(path.join(dir, 'native.onnx'), { ...spec, attentionOutputs: true });
  writeToyDecoder(path.join(dir, 'noattn.onnx'), spec);
  fs.mkdirSync(path.join(dir, 'ext'));
  writeToyDecoder(path.join(dir, 'ext', 'decoder.onnx'), { ...spec, externalData: true });
  writeToyDecoder(path.join(dir, 'fused.onnx'), { ...spec, fused: true });
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Run both files on the same feeds and return the named outputs of each. */
async function runBoth(a: string, b: string, names: string[]) {
  const feeds = decoderFeeds(readModel(a).model.graph!, { sequence: 5, past: 3 });
  const sa = await ort.InferenceSession.create(a);
  const sb = await ort.InferenceSession.create(b);
  const [ra, rb] = [await sa.run(feeds), await sb.run(feeds, names)];
  await sa.release();
  await sb.release();
  return { ra, rb, outputNames: sb.outputNames };
}

describe('expose-attention on a toy decoder', () => {
  it('all layers: outputs equal the native decoder_attentions.* (≤ 1e-6), in layer order', async () => {
    const out = path.join(dir, 'exposed.onnx');
    const run = runSayo(['expose-attention', path.join(dir, 'noattn.onnx'), out, '--layers', 'all']);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const names = [0, 1, 2].map((l) => `decoder_attentions.${l}`);
    const { ra, rb, outputNames } = await runBoth(path.join(dir, 'native.onnx'), out, names);
    expect(outputNames.filter((n) => n.startsWith('decoder_attentions.'))).toEqual(names);
    for (const n of names) {
      expect(rb[n].dims).toEqual([1, 2, 5, 8]);
      expect(maxAbsDiff(ra[n], rb[n])).toBeLessThanOrEqual(1e-6);
    }
  });

  it('head-mean and a layer list give the mean over heads of the chosen layers only', async () => {
    const out = path.join(dir, 'mean.onnx');
    const lines = await runExposeAttention(path.join(dir, 'noattn.onnx'), out, { layers: '0,2', reduce: 'head-mean' });
    expect(lines[0]).toContain('added 2 output(s)');
    const { ra, rb, outputNames } = await runBoth(path.join(dir, 'native.onnx'), out, [
      'decoder_attentions.0',
      'decoder_attentions.2',
    ]);
    expect(outputNames.filter((n) => n.startsWith('decoder_attentions.'))).toEqual([
      'decoder_attentions.0',
      'decoder_attentions.2',
    ]);
    for (const n of ['decoder_attentions.0', 'decoder_attentions.2']) {
      const full = ra[n].data as Float32Array;
      const mean = rb[n].data as Float32Array;
      expect(rb[n].dims).toEqual([1, 1, 5, 8]);
      for (let i = 0; i < mean.length; i++) expect(Math.abs(mean[i] - (full[i] + full[i + 40]) / 2)).toBeLessThan(1e-6);
    }
  });

  it('keeps external data working: the data file follows the output name and onnxruntime loads it', async () => {
    const out = path.join(dir, 'elsewhere', 'decoder_attn.onnx');
    const run = runSayo(['expose-attention', path.join(dir, 'ext', 'decoder.onnx'), out]);
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('external data: decoder_attn.onnx_data');
    expect(fs.existsSync(path.join(dir, 'elsewhere', 'decoder_attn.onnx_data'))).toBe(true);
    const weights = readModel(out).model.graph!.initializer!.filter((t) => t.dims?.length === 2);
    expect(weights.length).toBe(12);
    for (const t of weights)
      expect(t.externalData?.find((e) => e.key === 'location')?.value).toBe('decoder_attn.onnx_data');
    const { ra, rb } = await runBoth(path.join(dir, 'native.onnx'), out, ['decoder_attentions.2', 'logits']);
    expect(maxAbsDiff(ra['decoder_attentions.2'], rb['decoder_attentions.2'])).toBeLessThanOrEqual(1e-6);
    expect(maxAbsDiff(ra.logits, rb.logits)).toBeLessThanOrEqual(1e-6);
  });

  it("declares the probabilities' own element type (float64 Softmax between Casts), so onnxruntime loads the result", async () => {
    writeToyDecoder(path.join(dir, 'double.onnx'), { ...spec, doubleSoftmax: true });
    const out = path.join(dir, 'double-exposed.onnx');
    const run = runSayo(['expose-attention', path.join(dir, 'double.onnx'), out, '--layers', 'all']);
    expect(run.status).toBe(0);
    const { ra, rb } = await runBoth(path.join(dir, 'native.onnx'), out, ['decoder_attentions.1']);
    expect(rb['decoder_attentions.1'].type).toBe('float64');
    const a = ra['decoder_attentions.1'].data as Float32Array;
    const b = rb['decoder_attentions.1'].data as Float64Array;
    for (let i = 0; i < a.length; i++) expect(Math.abs(a[i] - b[i])).toBeLessThan(1e-6);
  });

  it('refuses fused attention, already-exposed graphs, bad layer lists and overwriting the input, exit 2', () => {
    const cases: Array<[string[], RegExp]> = [
      [[path.join(dir, 'fused.onnx'), path.join(dir, 'x.onnx')], /attention is fused \(1 MultiHeadAttention/],
      [[path.join(dir, 'native.onnx'), path.join(dir, 'x.onnx')], /already has attention outputs/],
      [[path.join(dir, 'noattn.onnx'), path.join(dir, 'x.onnx'), '--layers', '7'], /no layer 7/],
      [
        [path.join(dir, 'noattn.onnx'), path.join(dir, 'noattn.onnx')],
        /the output .*noattn\.onnx is the input model .*would destroy the input/,
      ],
      [[path.join(dir, 'missing.onnx'), path.join(dir, 'x.onnx')], /cannot read .*missing\.onnx/],
    ];
    for (const [args, message] of cases) {
      const run = runSayo(['expose-attention', ...args]);
      expect(run.status).toBe(2);
      expect(run.stderr).toMatch(message);
      expect(run.stderr.trim().split('\n')).toHaveLength(1);
    }
    expect(fs.existsSync(path.join(dir, 'x.onnx'))).toBe(false);
  });

  it("refuses, in one line, a decoder that computes each layer's last row a second time (the pair's first export: two softmaxes per layer)", async () => {
    const twice = path.join(dir, 'row-softmax.onnx');
    writeToyDecoder(twice, { ...spec, rowSoftmax: true });
    // a working decoder: the same logits as the one without the second row
    const { ra, rb } = await runBoth(path.join(dir, 'noattn.onnx'), twice, ['logits']);
    expect(maxAbsDiff(ra.logits, rb.logits)).toBeLessThanOrEqual(1e-5);
    const run = runSayo(['expose-attention', twice, path.join(dir, 'never.onnx'), '--layers', 'all']);
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(
      /^sayo: found 6 self-attention Softmax node\(s\).*3 present\.<l>\.value outputs.*re-export with eager attention\n$/,
    );
    expect(fs.existsSync(path.join(dir, 'never.onnx'))).toBe(false);
  });
});

describe('expose-attention output safety', () => {
  const sha = (file: string) => crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');

  it('refuses an output that is the input or its external data file (also through a symlink), before writing anything', async () => {
    const folder = path.join(dir, 'alias');
    fs.mkdirSync(folder);
    const input = path.join(folder, 'decoder.onnx');
    writeToyDecoder(input, { ...spec, externalData: true });
    fs.symlinkSync(input, path.join(folder, 'link.onnx'));
    fs.symlinkSync(path.join(folder, 'decoder.onnx_data'), path.join(folder, 'data-link.bin'));
    const before = [sha(input), sha(path.join(folder, 'decoder.onnx_data'))];
    const cases: Array<[string, RegExp]> = [
      [
        path.join(folder, 'decoder.onnx_data'),
        /the output .*decoder\.onnx_data is the input's external data file decoder\.onnx_data: writing it would destroy the input/,
      ],
      [path.join(folder, 'link.onnx'), /the output .*link\.onnx is the input model .*decoder\.onnx/],
      [path.join(folder, 'data-link.bin'), /is the input's external data file decoder\.onnx_data/],
      [path.join(folder, '..', 'alias', 'decoder.onnx'), /is the input model/],
      [folder, /the output .*alias is a folder; give an \.onnx file path/],
    ];
    for (const [output, message] of cases) {
      const run = runSayo(['expose-attention', input, output]);
      expect(run.status, output).toBe(2);
      expect(run.stderr, output).toMatch(message);
    }
    expect([sha(input), sha(path.join(folder, 'decoder.onnx_data'))]).toEqual(before);
    expect(fs.readdirSync(folder).sort()).toEqual(['data-link.bin', 'decoder.onnx', 'decoder.onnx_data', 'link.onnx']);
    const { ra, rb } = await runBoth(path.join(dir, 'noattn.onnx'), input, ['logits']);
    expect(maxAbsDiff(ra.logits, rb.logits)).toBeLessThanOrEqual(1e-6);
  });

  it('refuses a decoder onnxruntime cannot load (one attribute name byte-flipped), leaving no file behind', () => {
    fs.mkdirSync(path.join(dir, 'flipped'));
    const flipped = path.join(dir, 'flipped', 'decoder.onnx');
    writeToyDecoder(flipped, { ...spec, externalData: true });
    const bytes = fs.readFileSync(flipped);
    const at = bytes.indexOf('axis');
    expect(at).toBeGreaterThan(0);
    bytes.write('axiz', at);
    fs.writeFileSync(flipped, bytes);
    const out = path.join(dir, 'flipped-out', 'x.onnx');
    const run = runSayo(['expose-attention', flipped, out, '--layers', 'all']);
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(
      /^sayo: onnxruntime cannot load .*decoder\.onnx \(.*axiz.*\); the file is corrupt or not an ONNX model onnxruntime runs: re-export or re-download it\n$/,
    );
    expect(fs.readdirSync(path.join(dir, 'flipped-out'))).toEqual([]);
  });

  it('refuses a graph that is not a decoder (the shipped vision encoder), naming its inputs', () => {
    const run = runSayo([
      'expose-attention',
      path.join(REPO_ROOT, 'models/sayo-mini/onnx/vision_encoder.onnx'),
      path.join(dir, 'vision.onnx'),
    ]);
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(
      /not a decoder graph: its inputs \(pixel_values, image_grid_thw\) include no input_ids, inputs_embeds or past_key_values\.<l>\.key\/value; expose-attention rewrites a decoder export such as onnx\/decoder_model_merged\.onnx/,
    );
    expect(fs.existsSync(path.join(dir, 'vision.onnx'))).toBe(false);
  });
});

describe('expose-attention fuzz: truncated and mutated files', () => {
  const source = () => fs.readFileSync(path.join(dir, 'noattn.onnx'));

  it('in process: every truncation or mutation either works or throws a CliError (300 cases)', async () => {
    const bytes = source();
    const target = path.join(dir, 'fuzz-in.onnx');
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.record({ kind: fc.constant('truncate' as const), at: fc.integer({ min: 0, max: bytes.length - 1 }) }),
          fc.record({
            kind: fc.constant('mutate' as const),
            edits: fc.array(
              fc.record({ at: fc.integer({ min: 0, max: bytes.length - 1 }), value: fc.integer({ min: 0, max: 255 }) }),
              { minLength: 1, maxLength: 8 },
            ),
          }),
        ),
        async (c) => {
          const data = Buffer.from(bytes);
          const input = c.kind === 'truncate' ? data.subarray(0, c.at) : data;
          if (c.kind === 'mutate') for (const e of c.edits) data[e.at] = e.value;
          fs.writeFileSync(target, input);
          try {
            await runExposeAttention(target, path.join(dir, 'fuzz-out.onnx'), { layers: 'all', reduce: 'none' });
          } catch (err) {
            if (!(err instanceof CliError)) throw err;
            expect(err.message.length).toBeGreaterThan(10);
          }
        },
      ),
      { numRuns: 300, seed: 42 },
    );
  });

  it('spawned CLI: truncated files exit 2 with one clear line, mutated files never print a stack trace', () => {
    const bytes = source();
    for (const fraction of [0.01, 0.3, 0.5, 0.9, 0.999]) {
      const file = path.join(dir, `trunc-${fraction}.onnx`);
      fs.writeFileSync(file, bytes.subarray(0, Math.floor(bytes.length * fraction)));
      const run = runSayo(['expose-attention', file, path.join(dir, 'trunc-out.onnx')]);
      expect(run.status).toBe(2);
      expect(run.stderr).toMatch(/^sayo: .*(not a valid ONNX model|cannot rewrite)/);
      expect(hasStackTrace(run.stderr)).toBe(false);
    }
    for (let seed = 1; seed <= 5; seed++) {
      const data = Buffer.from(bytes);
      for (let k = 0; k < 16; k++) data[(seed * 7919 + k * 104729) % data.length] ^= 0xa5;
      const file = path.join(dir, `mut-${seed}.onnx`);
      fs.writeFileSync(file, data);
      const run = runSayo(['expose-attention', file, path.join(dir, `mut-out-${seed}.onnx`), '--layers', 'all']);
      expect([0, 2]).toContain(run.status);
      expect(hasStackTrace(run.stderr)).toBe(false);
      if (run.status === 2) expect(run.stderr).toMatch(/^sayo: \S.*\n$/);
    }
  });
});

/** The last query row of a [B, H, q, k] attention tensor as [B, H, 1, k] (logits pass through): the shipped decoder
 * outputs only that row (models/CONTRACT.md), expose-attention every row. */
function lastRow(t: ort.Tensor, name: string): ort.Tensor {
  if (!name.startsWith('decoder_attentions.')) return t;
  const [b, h, q, k] = t.dims;
  if (q === 1) return t;
  const src = t.data as Float32Array;
  const out = new Float32Array(b * h * k);
  for (let i = 0; i < b * h; i++) out.set(src.subarray((i * q + q - 1) * k, (i * q + q) * k), i * k);
  return new ort.Tensor('float32', out, [b, h, 1, k]);
}

describe('expose-attention on the real SAYO-mini decoder', () => {
  const noattn = path.join(REPO_ROOT, 'fixtures/onnx/sayo-mini-decoder-noattn.onnx');
  const native = path.join(REPO_ROOT, 'models/sayo-mini/onnx/decoder_model_merged.onnx');

  it('an exposed decoder with its attention outputs removed by our writer exposes again to the same outputs', async () => {
    const first = path.join(dir, 'sayo-mini-exposed-once.onnx');
    expect(runSayo(['expose-attention', noattn, first, '--layers', 'all']).status).toBe(0);
    const stripped = readModel(first);
    expect(stripAttentionOutputs(stripped.model)).toHaveLength(4);
    const noOutputs = path.join(dir, 'sayo-mini-stripped.onnx');
    writeModel(stripped, noOutputs);
    const out = path.join(dir, 'sayo-mini-restored.onnx');
    const run = runSayo(['expose-attention', noOutputs, out, '--layers', 'all']);
    expect(run.status).toBe(0);
    const names = [0, 1, 2, 3].map((l) => `decoder_attentions.${l}`);
    const { ra, rb } = await runBoth(first, out, [...names, 'logits']);
    for (const n of [...names, 'logits']) expect(maxAbsDiff(ra[n], rb[n])).toBeLessThanOrEqual(1e-6);
  });

  it('the shipped decoder stripped of its outputs (one softmax per layer, its last row sliced inside the layer) exposes again to the same last rows', async () => {
    const stripped = readModel(native);
    expect(stripAttentionOutputs(stripped.model)).toHaveLength(4);
    const noOutputs = path.join(dir, 'sayo-mini-native-stripped.onnx');
    writeModel(stripped, noOutputs);
    const out = path.join(dir, 'sayo-mini-native-restored.onnx');
    const run = runSayo(['expose-attention', noOutputs, out, '--layers', 'all']);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const names = [0, 1, 2, 3].map((l) => `decoder_attentions.${l}`);
    const { ra, rb, outputNames } = await runBoth(native, out, [...names, 'logits']);
    expect(outputNames.filter((n) => n.startsWith('decoder_attentions.'))).toEqual(names);
    for (const n of names) expect(maxAbsDiff(lastRow(ra[n], n), lastRow(rb[n], n))).toBeLessThanOrEqual(1e-6);
    expect(maxAbsDiff(ra.logits, rb.logits)).toBeLessThanOrEqual(1e-6);
  });

  it('no-attention export → expose-attention --layers all equals the native decoder_attentions.* on the last row (≤ 1e-6; logits ≤ 1e-5)', async () => {
    const out = path.join(dir, 'sayo-mini-exposed.onnx');
    const run = runSayo(['expose-attention', noattn, out, '--layers', 'all']);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const nativeNames = readModel(native)
      .model.graph!.output!.map((o) => o.name ?? '')
      .filter((n) => n.startsWith('decoder_attentions.'));
    expect(nativeNames.length).toBeGreaterThan(0);
    const { ra, rb, outputNames } = await runBoth(native, out, [...nativeNames, 'logits']);
    expect(outputNames.filter((n) => n.startsWith('decoder_attentions.'))).toEqual(nativeNames);
    for (const n of nativeNames) expect(maxAbsDiff(lastRow(ra[n], n), lastRow(rb[n], n))).toBeLessThanOrEqual(1e-6);
    // The shipped graph multiplies its last row (sliced off inside the layer) by the values in a MatMul of its own: logits
    // of magnitude ~10 differ in fp32 rounding.
    expect(maxAbsDiff(ra.logits, rb.logits)).toBeLessThanOrEqual(1e-5);
  });
});
