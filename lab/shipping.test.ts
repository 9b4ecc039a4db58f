/**
 * @file The wall between the house and the lab: the app and the CLI (everything index.html's module script and
 * package.json's "bin" reach) import nothing from lab/, e2e/, fixtures/ or any test file; every non-test file under
 * src/ ships; runtime "dependencies" are exactly the packages that code imports. The same check is run on a small
 * repo written here with one violation of each kind, so it is known to fail when the wall is breached.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { edgesUnder, houseViolations, importsOf, shippingGraph, type HouseOptions } from './testutils/import-graph.ts';

const ROOT = path.resolve(import.meta.dirname, '..');

const HOUSE: HouseOptions = {
  data: ['models/'],
  assetPackages: {
    // vite.config.ts serves onnxruntime-web's wasm and glue under /ort/ (the copy transformers.js resolves); the
    // browser loads them at runtime, so the pinned version is a runtime dependency without an import.
    'onnxruntime-web': 'served under /ort/ by vite.config.ts',
  },
};

describe('the shipping import graph of this repo', () => {
  it('reaches the app and the CLI from their entry points', () => {
    const g = shippingGraph(ROOT);
    expect(g.entries).toEqual(expect.arrayContaining(['src/main.tsx', 'bin/sayo.mjs']));
    // Workers and child scripts are found through `new URL(…, import.meta.url)`.
    expect(g.files).toEqual(
      expect.arrayContaining(['src/cli/sayo.ts', 'src/engine/worker.ts', 'src/cli/lib/prompt-box.child.mjs']),
    );
  });

  it('has no import from shipping code into the lab, no test code in src/, and dependencies = what ships imports', () => {
    expect(houseViolations(ROOT, HOUSE)).toEqual([]);
  });
});

/** Inside the lab: what each part may not import (benchmarks and e2e stand apart and share lab/support; the
 * benchmarks use the CLI through its command line, never its modules). */
const LAB_WALLS: Array<[from: string, forbidden: string[]]> = [
  ['lab/bench', ['e2e/', 'src/cli/']],
  ['e2e', ['lab/bench/']],
  ['lab/support', ['lab/bench/', 'e2e/']],
];

describe('walls inside the lab', () => {
  it.each(LAB_WALLS)('%s imports nothing from %j', (from, forbidden) => {
    const edges = edgesUnder(ROOT, from);
    expect(edges.length).toBeGreaterThan(0);
    expect(edges.filter((e) => e.to?.startsWith('<unresolved>'))).toEqual([]);
    expect(
      edges.filter((e) => e.to && forbidden.some((f) => e.to!.startsWith(f))).map((e) => `${e.from} → ${e.to}`),
    ).toEqual([]);
  });
});

describe('the check itself', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sayo-house-'));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const write = (rel: string, text: string) => {
    fs.mkdirSync(path.dirname(path.join(tmp, rel)), { recursive: true });
    fs.writeFileSync(path.join(tmp, rel), text);
  };

  it('finds every kind of breach in a repo that has one of each', () => {
    write('tsconfig.json', fs.readFileSync(path.join(ROOT, 'tsconfig.json'), 'utf8'));
    write(
      'package.json',
      JSON.stringify({ bin: { x: 'bin/x.mjs' }, dependencies: { tsx: '1', ajv: '1', unusedpkg: '1' } }),
    );
    write('index.html', '<script type="module" src="/src/main.ts"></script>');
    write('bin/x.mjs', "import { register } from 'tsx/esm/api';\nregister();\nawait import('../src/cli.ts');\n");
    write(
      'src/main.ts',
      "import { helper } from '../lab/helper.ts';\nimport { t } from './thing.test.ts';\nimport Ajv from 'ajv';\nimport { parse } from 'yaml';\nimport type { Z } from 'typeonlypkg';\nconsole.log(helper, t, Ajv, parse);\n",
    );
    write(
      'src/cli.ts',
      "import fs from 'node:fs';\nconst w = new URL('./gone.ts', import.meta.url);\nconsole.log(fs, w);\n",
    );
    write('src/thing.test.ts', 'export const t = 1;\n');
    write('src/orphan.ts', 'export const o = 1;\n');
    write('lab/helper.ts', 'export const helper = 1;\n');
    const v = houseViolations(tmp, { data: [], assetPackages: {} });
    expect(v).toEqual(
      expect.arrayContaining([
        { rule: 'outside-src', detail: 'src/main.ts imports lab/helper.ts, outside src/' },
        { rule: 'test-code', detail: 'src/main.ts imports test code src/thing.test.ts' },
        { rule: 'unreached', detail: 'src/orphan.ts is under src/ but no shipping entry point imports it' },
        { rule: 'undeclared-dependency', detail: 'src/main.ts imports yaml, not in package.json "dependencies"' },
        { rule: 'unused-dependency', detail: '"dependencies" lists unusedpkg, which no shipping file imports' },
        { rule: 'unresolved', detail: 'src/cli.ts imports ./gone.ts (<unresolved> src/gone.ts)' },
      ]),
    );
    expect(v).toHaveLength(6);
    // tsx (bin), ajv (imported) are used; a type-only package import needs no runtime dependency.
    expect(v.map((x) => x.detail).join('\n')).not.toMatch(/typeonlypkg|lists (tsx|ajv)/);
    // Inside the lab, test files included.
    write('lab/bench/run.ts', "import { page } from '../../e2e/page.ts';\nconsole.log(page);\n");
    write('lab/bench/run.test.ts', "import { helper } from '../helper.ts';\nconsole.log(helper);\n");
    write('e2e/page.ts', 'export const page = 1;\n');
    expect(edgesUnder(tmp, 'lab/bench').map((e) => [e.from, e.to])).toEqual([
      ['lab/bench/run.test.ts', 'lab/helper.ts'],
      ['lab/bench/run.ts', 'e2e/page.ts'],
    ]);
  });

  it('reads every import form TypeScript knows, not just `import … from`', () => {
    const text = [
      "import a from 'a';",
      "import type { B } from 'b';",
      "import { type C } from 'c';",
      "export { d } from './d.ts';",
      "export type { E } from './e.ts';",
      "const f = await import('./f.ts');",
      "type G = import('./g.ts').G;",
      "const h = require('h');",
      "new Worker(new URL('./i.ts', import.meta.url));",
      'const notAnImport = \'import x from "j"\';',
    ].join('\n');
    expect(importsOf('x.ts', text)).toEqual([
      { specifier: 'a', typeOnly: false },
      { specifier: 'b', typeOnly: true },
      { specifier: 'c', typeOnly: true },
      { specifier: './d.ts', typeOnly: false },
      { specifier: './e.ts', typeOnly: true },
      { specifier: './f.ts', typeOnly: false },
      { specifier: './g.ts', typeOnly: true },
      { specifier: 'h', typeOnly: false },
      { specifier: './i.ts', typeOnly: false },
    ]);
  });
});
