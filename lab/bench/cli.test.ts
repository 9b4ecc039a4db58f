/**
 * @file The benchmarks' entry point: every mode answers --help and exits without building or measuring anything,
 * options are parsed and checked by commander, and two modes at once are refused.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { commandFor } from './cli.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');

/** `npm run bench -- <args>` as package.json runs it (tsx lab/bench/cli.ts). */
function bench(args: string[]) {
  return spawnSync('npx', ['tsx', 'lab/bench/cli.ts', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
}

describe('npm run bench', () => {
  it.each([
    [
      ['--scale', '--help'],
      ['--rungs', '--quantized', '--threads-ab', '--webgpu', '--print', '--verbose'],
    ],
    [
      ['--deepstack', '--help'],
      ['--images', '--rounds', '--verbose'],
    ],
    [
      ['--plot', '--help'],
      ['<files...>', '--png'],
    ],
    [['--help'], ['--model', '--skip-browser', '--scale']],
  ])('%j prints the options and exits 0 before starting anything', (args, named) => {
    const r = bench(args);
    expect(r.status, r.stderr).toBe(0);
    for (const n of named) expect(r.stdout).toContain(n);
    // What a run prints first (scale, engine, DeepStack) and the ladder builder's rung lines: none of them.
    expect(r.stdout + r.stderr).not.toMatch(
      /SAYO Lens (scale|engine) benchmark|load average before|copy bandwidth \(|DeepStack cost on|M params/,
    );
  });

  it('refuses a bad value and two modes at once, exit 2 style errors without a stack trace', () => {
    const r = bench(['--scale', '--tokens', 'many']);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("option '--tokens <n>' argument 'many' is invalid");
    const two = bench(['--scale', '--deepstack']);
    expect(two.status).toBe(2);
    expect(two.stderr).toContain('bench: pick one of --scale, --deepstack');
    expect(two.stderr).not.toMatch(/\n\s+at /);
  });

  it('parses a scale run into typed options with the documented defaults', () => {
    const { program, rest } = commandFor(['--scale', '--rungs', 'mini,25m', '--tokens', '8', '--skip-browser']);
    expect(rest).toEqual(['--rungs', 'mini,25m', '--tokens', '8', '--skip-browser']);
    const o = program.parse(rest, { from: 'user' }).opts();
    expect(o).toMatchObject({
      rungs: 'mini,25m',
      tokens: 8,
      rounds: 3,
      threads: 1,
      quantized: '500m',
      mid: '100m',
      threadsImages: '100',
      webgpu: 'none',
      appPort: 4181,
      skipBrowser: true,
    });
    expect(o.verbose).toBeUndefined();
  });
});
