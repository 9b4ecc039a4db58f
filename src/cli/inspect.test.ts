/**
 * @file `sayo inspect` on the shipped SAYO-mini folders (must pass) and on copies broken in one way each (must
 * fail with the reason, exit 1), a decoder without attention outputs (warning only), and unreadable input (exit 2).
 */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stripAttentionOutputs } from './onnx/attention.ts';
import { readModel, writeModel } from './onnx/model.ts';
import { REPO_ROOT, runSayo } from '../../lab/testutils/run-cli.ts';
import { inspectFolder, type Check } from './lib/inspect-checks.ts';
import { localFolder } from './lib/folder.ts';

const shipped = path.join(REPO_ROOT, 'models/sayo-mini');
let dir = '';

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sayo-inspect-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A copy of the shipped folder with `edit` applied. */
function brokenCopy(name: string, edit: (folder: string) => void): string {
  const folder = path.join(dir, name);
  fs.cpSync(shipped, folder, { recursive: true });
  edit(folder);
  return folder;
}

function editJson(file: string, edit: (value: Record<string, unknown>) => void): void {
  const value = JSON.parse(fs.readFileSync(file, 'utf8'));
  edit(value);
  fs.writeFileSync(file, JSON.stringify(value));
}

function inspectJson(folder: string): { status: number | null; checks: Check[]; stderr: string } {
  const run = runSayo(['inspect', folder, '--json']);
  return { status: run.status, stderr: run.stderr, checks: run.stdout ? JSON.parse(run.stdout).checks : [] };
}

const failures = (checks: Check[]) => checks.filter((c) => c.status === 'fail').map((c) => c.message);

/** What the shipped folder itself declares, so the cases hold for any checkpoint of the contract. */
const readShipped = (file: string) => JSON.parse(fs.readFileSync(path.join(shipped, file), 'utf8'));
const SHIPPED_CONFIG = readShipped('config.json');
/** The decoder's fields: top level for Qwen2-VL, text_config for Qwen2.5-VL / Qwen3-VL exports. */
const SHIPPED_TEXT = SHIPPED_CONFIG.text_config ?? SHIPPED_CONFIG;
const LAYERS: number = SHIPPED_TEXT.num_hidden_layers;
const VOCAB: number = SHIPPED_TEXT.vocab_size ?? SHIPPED_CONFIG.vocab_size;
const PROCESSOR_CLASS: string = readShipped('preprocessor_config.json').processor_class;
const tokenId = (content: string): number =>
  (readShipped('tokenizer.json').added_tokens as Array<{ id: number; content: string }>).find(
    (a) => a.content === content,
  )!.id;
const VISION_END = tokenId('<|vision_end|>');
const IM_END = tokenId('<|im_end|>');
/** Edits a text-model field where this config keeps it (text_config when it has one). */
const editText = (c: Record<string, unknown>, key: string, value: unknown) =>
  ((c.text_config && typeof c.text_config === 'object' ? (c.text_config as Record<string, unknown>) : c)[key] = value);

describe('sayo inspect', () => {
  it('passes both shipped checkpoints, every attention layer present', () => {
    expect(Number.isInteger(LAYERS) && LAYERS > 0).toBe(true);
    for (const model of ['models/sayo-mini', 'models/sayo-mini-base']) {
      const run = runSayo(['inspect', model]);
      expect(run.status).toBe(0);
      for (let l = 0; l < LAYERS; l++) expect(run.stdout).toMatch(new RegExp(`✓ decoder_attentions\\.${l} FLOAT`));
      expect(run.stdout).not.toMatch(new RegExp(`decoder_attentions\\.${LAYERS} `));
      expect(run.stdout).toMatch(/\d+ checks: \d+ passed, 0 failed, 0 warnings/);
    }
  });

  it('fails, naming the cause, when one thing is broken', () => {
    const cases: Array<[string, (f: string) => void, RegExp]> = [
      ['no-tokenizer', (f) => fs.rmSync(path.join(f, 'tokenizer.json')), /^tokenizer\.json$/],
      [
        'bad-json',
        (f) => fs.writeFileSync(path.join(f, 'preprocessor_config.json'), '{"patch_size": 14,'),
        /preprocessor_config\.json is not valid JSON/,
      ],
      [
        'wrong-image-id',
        (f) => editJson(path.join(f, 'config.json'), (c) => (c.image_token_id = 3)),
        /image_token_id 3 is the id of <\|image_pad\|>/,
      ],
      [
        'no-normalize',
        (f) => editJson(path.join(f, 'preprocessor_config.json'), (c) => delete c.do_normalize),
        /do_normalize/,
      ],
      [
        'no-eos',
        (f) => editJson(path.join(f, 'generation_config.json'), (c) => (c.eos_token_id = [1])),
        /eos_token_id \[1\] includes <\|im_end\|>/,
      ],
      [
        'fewer-layers',
        (f) => editJson(path.join(f, 'config.json'), (c) => editText(c, 'num_hidden_layers', LAYERS + 2)),
        new RegExp(`past_key_values\\.${LAYERS}\\.key is missing`),
      ],
      [
        'corrupt-decoder',
        (f) => fs.truncateSync(path.join(f, 'onnx/decoder_model_merged.onnx'), 1000),
        /decoder_model_merged\.onnx is not a valid ONNX model/,
      ],
      [
        'no-special',
        (f) =>
          editJson(
            path.join(f, 'tokenizer.json'),
            (t) =>
              (t.added_tokens = (t.added_tokens as Array<{ content: string }>).filter(
                (a) => a.content !== '<|im_end|>',
              )),
          ),
        /special token <\|im_end\|> missing/,
      ],
    ];
    for (const [name, edit, expected] of cases) {
      const { status, checks } = inspectJson(brokenCopy(name, edit));
      expect(status, name).toBe(1);
      expect(
        failures(checks).some((m) => expected.test(m)),
        `${name}: ${failures(checks).join(' | ')}`,
      ).toBe(true);
    }
  });

  it('fails what `sayo ask` could not run, each ✗ naming the expected value and the fix', async () => {
    const template = (f: string, edit: (t: string) => string) =>
      editJson(path.join(f, 'tokenizer_config.json'), (c) => (c.chat_template = edit(String(c.chat_template))));
    const flip = (file: string, from: string, to: string) => {
      const bytes = fs.readFileSync(file);
      const at = bytes.indexOf(from);
      expect(at).toBeGreaterThan(0);
      bytes.write(to, at);
      fs.writeFileSync(file, bytes);
    };
    const cases: Array<[string, (f: string) => void, RegExp]> = [
      [
        'template-no-image',
        (f) => template(f, (t) => t.replaceAll('<|vision_start|><|image_pad|><|vision_end|>', '')),
        /chat template renders an image turn without <\|vision_start\|><\|image_pad\|><\|vision_end\|> .*expected the placeholder where the image goes; fix: use the Qwen-VL chat template/,
      ],
      [
        'template-broken',
        (f) => template(f, (t) => `${t}{% if %}`),
        /chat template does not render an image turn in transformers\.js \(.+\); fix: /,
      ],
      [
        'vocab-too-big',
        (f) =>
          editJson(path.join(f, 'tokenizer.json'), (t) =>
            (t.added_tokens as object[]).push({
              id: VOCAB + 46,
              content: '<extra>',
              special: true,
              single_word: false,
              lstrip: false,
              rstrip: false,
              normalized: false,
            }),
          ),
        new RegExp(
          `tokenizer size ${VOCAB + 47} > embedding rows ${VOCAB}: .*expected ≤ ${VOCAB}; fix: resize the model's embeddings`,
        ),
      ],
      [
        'vision-end-id',
        (f) => editJson(path.join(f, 'config.json'), (c) => (c.vision_end_token_id = 3)),
        new RegExp(
          `vision_end_token_id 3 is the id of <\\|vision_end\\|> \\(${VISION_END}\\); fix: set "vision_end_token_id": ${VISION_END} in config\\.json`,
        ),
      ],
      [
        'eos-unknown',
        (f) => editJson(path.join(f, 'config.json'), (c) => (c.eos_token_id = 9999)),
        new RegExp(
          `config\\.json eos_token_id 9999 has id\\(s\\) 9999 that are not tokens of tokenizer\\.json; expected .*<\\|im_end\\|> is ${IM_END}`,
        ),
      ],
      [
        'no-processor-class',
        (f) => editJson(path.join(f, 'preprocessor_config.json'), (c) => delete c.processor_class),
        new RegExp(
          `processor_class is not set: expected "${PROCESSOR_CLASS}" .*fix: add "processor_class": "${PROCESSOR_CLASS}" to preprocessor_config\\.json`,
        ),
      ],
      [
        'qwen25-wrong-class',
        (f) => {
          editJson(path.join(f, 'config.json'), (c) => (c.model_type = 'qwen2_5_vl'));
          editJson(path.join(f, 'preprocessor_config.json'), (c) => (c.processor_class = 'AutoProcessor'));
        },
        /processor_class "AutoProcessor": expected "Qwen2_5_VLProcessor"/,
      ],
      [
        'no-image-processor',
        (f) => editJson(path.join(f, 'preprocessor_config.json'), (c) => delete c.image_processor_type),
        /image_processor_type is not set: expected "Qwen2VLImageProcessor"/,
      ],
      [
        'flipped-decoder',
        (f) => flip(path.join(f, 'onnx/decoder_model_merged.onnx'), 'axis', 'axiz'),
        /onnxruntime cannot load onnx\/decoder_model_merged\.onnx \(.*axiz.*\); expected a graph onnxruntime runs; fix: re-export or re-download/,
      ],
    ];
    for (const [name, edit, expected] of cases) {
      const checks = await inspectFolder(localFolder(brokenCopy(name, edit)));
      expect(
        failures(checks).some((m) => expected.test(m)),
        `${name}: ${failures(checks).join(' | ')}`,
      ).toBe(true);
    }
    const skipped = runSayo(['inspect', path.join(dir, 'flipped-decoder'), '--no-load', '--json']);
    const report = JSON.parse(skipped.stdout) as { checks: Check[] };
    expect(skipped.status).toBe(0);
    expect(report.checks.filter((c) => c.status === 'warn').map((c) => c.message)).toContain(
      'onnx/decoder_model_merged.onnx: not loaded in onnxruntime (--no-load): a pass does not prove the graph runs',
    );
  });

  it('only warns (exit 0) when the decoder has no attention outputs, pointing to expose-attention', () => {
    const folder = brokenCopy('no-attention', (f) => {
      const file = path.join(f, 'onnx/decoder_model_merged.onnx');
      const loaded = readModel(file);
      stripAttentionOutputs(loaded.model);
      writeModel(loaded, path.join(f, 'onnx/tmp.onnx'));
      fs.renameSync(path.join(f, 'onnx/tmp.onnx'), file);
    });
    const { status, checks } = inspectJson(folder);
    expect(status).toBe(0);
    expect(
      checks
        .filter((c) => c.status === 'warn')
        .map((c) => c.message)
        .join(),
    ).toMatch(/sayo expose-attention/);
  });

  it('says from file sizes alone whether the CLI, browser WASM and browser WebGPU can hold the weights', async () => {
    // The decoder declared as three external-data chunks of sparse files: 4.6 GB that cost no disk.
    const folder = brokenCopy('over-4-gib', (f) => {
      editJson(
        path.join(f, 'config.json'),
        (c) =>
          ((c['transformers.js_config'] as Record<string, unknown>).use_external_data_format = {
            'decoder_model_merged.onnx': 3,
          }),
      );
      [2e9, 2e9, 0.6e9].forEach((bytes, i) => {
        const fd = fs.openSync(path.join(f, 'onnx', `decoder_model_merged.onnx_data${i ? `_${i}` : ''}`), 'w');
        fs.ftruncateSync(fd, bytes);
        fs.closeSync(fd);
      });
    });
    const size = (await inspectFolder(localFolder(folder), undefined, false)).filter((c) => c.section === 'size');
    expect(size.map((c) => c.status)).toEqual(['pass', 'warn', 'pass']);
    expect(size[0].message).toMatch(
      /weights at fp32: 4\.29 GiB in 6 files; onnxruntime-node \(this CLI\) has no 4 GiB limit/,
    );
    expect(size[1].message).toMatch(/^browser WASM: .*4\.29 GiB.*4\.00 GiB.*Choose WebGPU/);
    expect(size[2].message).toMatch(/^browser WebGPU: .*external data goes to the GPU/);
    const shippedSize = (await inspectFolder(localFolder(shipped), undefined, false)).filter(
      (c) => c.section === 'size',
    );
    expect(shippedSize.map((c) => c.status)).toEqual(['pass', 'pass', 'pass']);
  });

  it('checks a folder served over HTTP the same way (real local server)', async () => {
    const server = http.createServer((req, res) => {
      const file = path.join(shipped, decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
      if (!file.startsWith(shipped) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-length': fs.statSync(file).size });
      if (req.method === 'HEAD') res.end();
      else fs.createReadStream(file).pipe(res);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    try {
      const { spawn } = await import('node:child_process');
      const child = spawn(
        process.execPath,
        [path.join(REPO_ROOT, 'bin/sayo.mjs'), 'inspect', `http://127.0.0.1:${port}/`, '--json'],
        { cwd: REPO_ROOT },
      );
      let stdout = '';
      child.stdout.on('data', (d) => (stdout += d));
      const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
      expect(status).toBe(0);
      const report = JSON.parse(stdout);
      expect(report.ok).toBe(true);
      expect(report.checks.filter((c: Check) => c.status === 'pass').length).toBeGreaterThan(60);
    } finally {
      server.close();
    }
  });

  it('exits 2 with one line for a folder that does not exist', () => {
    const run = runSayo(['inspect', path.join(dir, 'nowhere')]);
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/^sayo: .*does not exist\n$/);
  });
});
