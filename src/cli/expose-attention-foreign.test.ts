/**
 * @file `sayo expose-attention` on decoders exported from Hugging Face's own classes (tiny random weights, eager
 * attention, optimum's names; built by training/tools/foreign_graphs.py, cached under test-results/graphs/<hash of
 * the script and training/requirements.lock>): every exposed self- and cross-attention equals Hugging Face's `output_attentions=True` within 1e-5
 * in onnxruntime-node, the logits are unchanged, the declared output shapes match the real ones, and `--layers last`
 * names the last self-attention layer.
 */
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runExposeAttention } from './commands/expose-attention.ts';
import { REPO_ROOT, runSayo } from '../../lab/testutils/run-cli.ts';
import { maxAbsDiff } from '../../lab/testutils/onnx-feeds.ts';
import { readModel, toNum } from './onnx/model.ts';

const SCRIPT = path.join(REPO_ROOT, 'training/tools/foreign_graphs.py');
const PYTHON = path.join(REPO_ROOT, '.venv/bin/python');
const LOCK = path.join(REPO_ROOT, 'training/requirements.lock');
const CASES = [
  'gpt2',
  'gpt2_reorder',
  'gpt2_cross',
  'opt',
  'gpt_neox',
  'llama',
  'qwen2',
  'bart',
  'mvp',
  'mvp_causal',
  't5',
  'whisper',
];
/** Sizes the script feeds (BATCH, SEQ, PAST, ENC in foreign_graphs.py), by the symbolic dim names we declare. */
const DIMS: Record<string, number> = {
  batch_size: 2,
  sequence_length: 3,
  total_sequence_length: 7,
  encoder_sequence_length: 5,
};

interface Tensor {
  dtype: 'int64' | 'float32';
  dims: number[];
  data: number[];
}
interface Case {
  model_class: string;
  kind: 'causal' | 'cross' | 'seq2seq';
  layers: number;
  inputs: Record<string, Tensor>;
  expected: { logits: Tensor; self: Tensor[]; cross: Tensor[] };
}

let graphs = '';
let out = '';

/** Build the graphs once per version of the script and of the pinned Python stack (the cache key hashes both). */
function buildGraphs(): string {
  const hash = crypto
    .createHash('sha256')
    .update(fs.readFileSync(SCRIPT))
    .update(fs.readFileSync(LOCK))
    .digest('hex')
    .slice(0, 16);
  const dir = path.join(REPO_ROOT, 'test-results/graphs', hash);
  if (fs.existsSync(path.join(dir, 'done'))) return dir;
  const tmp = `${dir}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  const run = spawnSync(PYTHON, [SCRIPT, tmp], { encoding: 'utf8', timeout: 300_000 });
  if (run.error)
    throw new Error(`cannot run ${PYTHON} (${run.error.message}): create the venv with bash training/tools/venv.sh`);
  if (run.status !== 0) throw new Error(`foreign_graphs.py failed (${run.status}): ${run.stderr.slice(-2000)}`);
  fs.writeFileSync(path.join(tmp, 'done'), run.stdout);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.renameSync(tmp, dir);
  return dir;
}

beforeAll(() => {
  graphs = buildGraphs();
  out = fs.mkdtempSync(path.join(os.tmpdir(), 'sayo-foreign-'));
}, 300_000);
afterAll(() => fs.rmSync(out, { recursive: true, force: true }));

const readCase = (name: string): Case => JSON.parse(fs.readFileSync(path.join(graphs, name, 'case.json'), 'utf8'));

function feeds(c: Case): Record<string, ort.Tensor> {
  const f: Record<string, ort.Tensor> = {};
  for (const [name, t] of Object.entries(c.inputs)) {
    f[name] =
      t.dtype === 'int64'
        ? new ort.Tensor('int64', BigInt64Array.from(t.data.map(BigInt)), t.dims)
        : new ort.Tensor('float32', Float32Array.from(t.data), t.dims);
  }
  return f;
}

const tensor = (t: Tensor) => new ort.Tensor('float32', Float32Array.from(t.data), t.dims);

async function run(file: string, c: Case): Promise<ort.InferenceSession.OnnxValueMapType> {
  const session = await ort.InferenceSession.create(file);
  try {
    return await session.run(feeds(c));
  } finally {
    await session.release();
  }
}

/** The declared dims of an output: numbers, or the value its symbol stands for in this input. */
function declaredDims(file: string, name: string): Array<number | string> {
  const o = readModel(file).model.graph!.output!.find((x) => x.name === name);
  return (o?.type?.tensorType?.shape?.dim ?? []).map((d) =>
    d.dimParam ? (d.dimParam === 'num_heads' ? 'num_heads' : (DIMS[d.dimParam] ?? d.dimParam)) : toNum(d.dimValue),
  );
}

describe.each(CASES)('expose-attention on %s (Hugging Face export)', (name) => {
  it('all self- and cross-attention layers equal Hugging Face output_attentions (≤ 1e-5); logits unchanged; shapes as declared', async () => {
    const c = readCase(name);
    const input = path.join(graphs, name, 'model.onnx');
    const file = path.join(out, `${name}-all.onnx`);
    const args = [
      'expose-attention',
      input,
      file,
      '--layers',
      'all',
      ...(c.expected.cross.length > 0 ? ['--cross-layers', 'all'] : []),
    ];
    const cli = runSayo(args);
    expect(cli.stderr).toBe('');
    expect(cli.status).toBe(0);
    const [before, after] = [await run(input, c), await run(file, c)];
    expect(maxAbsDiff(before.logits, after.logits)).toBe(0);
    expect(maxAbsDiff(after.logits, tensor(c.expected.logits))).toBeLessThanOrEqual(1e-5);
    const groups: Array<[string, Tensor[]]> = [
      ['decoder_attentions', c.expected.self],
      ['cross_attentions', c.expected.cross],
    ];
    for (const [prefix, expected] of groups) {
      expected.forEach((ref, l) => {
        const got = after[`${prefix}.${l}`];
        expect(got, `${prefix}.${l}`).toBeDefined();
        expect(got.dims, `${prefix}.${l}`).toEqual(ref.dims);
        expect(maxAbsDiff(got, tensor(ref)), `${prefix}.${l}`).toBeLessThanOrEqual(1e-5);
        const declared = declaredDims(file, `${prefix}.${l}`);
        expect(declared.length, `${prefix}.${l} rank`).toBe(ref.dims.length);
        declared.forEach((d, i) => d !== 'num_heads' && expect(d, `${prefix}.${l} dim ${i}`).toBe(ref.dims[i]));
      });
    }
    const names = Object.keys(after).filter((n) => /_attentions\./.test(n));
    expect(names.length).toBe(c.expected.self.length + c.expected.cross.length);
  });

  it('--layers last exposes the last self-attention layer only, and says when cross-attention was left out', async () => {
    const c = readCase(name);
    const file = path.join(out, `${name}-last.onnx`);
    const lines = await runExposeAttention(path.join(graphs, name, 'model.onnx'), file, {
      layers: 'last',
      reduce: 'none',
    });
    const last = c.layers - 1;
    const outputs = readModel(file)
      .model.graph!.output!.map((o) => o.name ?? '')
      .filter((n) => /_attentions\./.test(n));
    expect(outputs).toEqual([`decoder_attentions.${last}`]);
    const got = (await run(file, c))[`decoder_attentions.${last}`];
    expect(maxAbsDiff(got, tensor(c.expected.self[last]))).toBeLessThanOrEqual(1e-5);
    if (c.expected.cross.length > 0)
      expect(lines.join('\n')).toMatch(
        /note: 2 cross-attention layer\(s\) \(keys from encoder states\) not exposed; add --cross-layers/,
      );
    else expect(lines.join('\n')).not.toMatch(/cross-attention/);
  });
});
