/**
 * @file The chain rewrite against the transformers.js bundles actually installed: both chains are found and fixed in
 * the web build, and the rewritten chain keeps running after a failure (the poisoning itself is shown in real
 * Chromium by e2e/faults.spec.ts).
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { fixChains } from './transformers-chains.ts';

const dist = path.dirname(path.dirname(createRequire(import.meta.url).resolve('@huggingface/transformers')));

describe('transformers.js session chains', () => {
  it('rewrites both chains of the installed web bundle', () => {
    const code = fs.readFileSync(path.join(dist, 'dist/transformers.web.js'), 'utf8');
    const out = fixChains(code);
    expect(out).toContain('webInitChain = webInitChain.then(load, load)');
    expect(out).toContain('webInferenceChain = webInferenceChain.then(run, run)');
    expect(out).not.toMatch(/webInitChain\.then\(load\)/);
  });

  it('fails loudly when a declared chain has changed shape', () => {
    expect(() => fixChains('let webInitChain = Promise.resolve(); webInitChain = webInitChain.finally(load);')).toThrow(
      /re-check the fix/,
    );
  });

  it('the rewritten chain runs the next load after a failed one; the original does not', async () => {
    const run = async (src: string) => {
      const body = `let webInitChain = Promise.resolve(); const create = (load) => (${src}); return create;`;
      const create = new Function(body)() as (load: () => Promise<string>) => Promise<string>;
      const first = create(() => Promise.reject(new Error('protobuf parsing failed'))).catch((e: Error) => e.message);
      const second = create(() => Promise.resolve('session')).catch((e: Error) => e.message);
      return [await first, await second];
    };
    const original = 'webInitChain = webInitChain.then(load)';
    expect(await run(original)).toEqual(['protobuf parsing failed', 'protobuf parsing failed']);
    expect(await run(fixChains(`let webInitChain; ${original}`).replace('let webInitChain; ', ''))).toEqual([
      'protobuf parsing failed',
      'session',
    ]);
  });
});
