/**
 * @file `npm run bench`: the benchmarks' one entry point. Without a mode it runs the engine benchmark; `--scale`,
 * `--deepstack`, `--plot` and `--big-webgpu` pick the others. Each mode is a commander program of its own, so
 * `npm run bench -- --scale --help` prints the scale benchmark's options and exits before anything is built.
 * Figures are printed, never asserted.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';

const MODES = ['--scale', '--deepstack', '--plot', '--big-webgpu'] as const;

const int = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${name} takes a whole number`);
  return n;
};
const port = (v: string) => {
  const n = int('a port')(v);
  if (n < 1 || n > 65535) throw new InvalidArgumentError('a port is 1–65535');
  return n;
};

/** `npm run bench`: the engine in Node and in headless Chromium on one model, image and question. */
export function engineCommand(): Command {
  return new Command('npm run bench --')
    .description(
      'Engine figures in Node (onnxruntime-node) and headless Chromium (WASM): decode tokens/s with and without attention capture, first token cold and warm, peak memory; then the core reward timings (lab/bench/core.ts).',
    )
    .option('--model <id>', 'registry id of the model', 'sayo-mini')
    .option('--tokens <n>', 'new tokens per answer', int('--tokens'), 64)
    .option('--repeats <n>', 'answers per figure (the median is printed)', int('--repeats'), 8)
    .option('--skip-browser', 'Node only')
    .option('--app-port <port>', 'port of the app preview the Chromium runs load', port, 4179)
    .addHelpText(
      'after',
      '\nOther benchmarks: --scale (the ladder of checkpoints), --deepstack (what DeepStack costs), --plot (draw saved scale reports), --big-webgpu (a folder over 4 GiB on WebGPU); each takes --help.',
    )
    .action(async (o) => {
      const { runEngine } = await import('./engine.ts');
      process.exitCode = await runEngine(o);
    });
}

/** `npm run bench -- --scale`: the engine at real scale on the ladder of random-weight checkpoints. */
export function scaleCommand(): Command {
  return new Command('npm run bench -- --scale')
    .description(
      'The engine at real scale on the ladder of random-weight checkpoints (python -m sayo_train ladder, built on demand and cached), in Node (one process per job) and headless Chromium (one browser per job). Printed, never asserted; the load average is printed beside every table.',
    )
    .option('--rungs <list>', 'rungs to run', 'mini,25m,100m,500m')
    .option(
      '--quantized <list>',
      'rungs also measured with their q4 and q8 decoders (a light rung: its whole 4-bit set)',
      '500m',
    )
    .option('--quantized-only', 'the --quantized rungs in their quantized precisions only')
    .option('--mid <rung>', 'rung of the image-token and generated-length sweeps', '100m')
    .option('--tokens <n>', 'forced new tokens per decode job', int('--tokens'), 32)
    .option('--rounds <n>', 'interleaved rounds per decode job (medians are printed)', int('--rounds'), 3)
    .option('--threads <n>', 'ONNX Runtime intra-op threads of the Node jobs', int('--threads'), 1)
    .option('--threads-ab <list>', 'rungs of the threads 1 vs 2 A/B (default: the --mid rung)')
    .option('--threads-images <list>', 'image-token counts of the threads A/B (100, 400, 1300)', '100')
    .option('--threads-only', 'only the threads A/B, Node and Chromium')
    .option('--images <list>', 'also peak memory at these image-token counts (400, 1300), Node and Chromium')
    .option('--skip-rungs', 'no per-rung Node jobs (sweeps and Chromium still run)')
    .option('--skip-node', 'no Node job at all')
    .option('--skip-browser', 'no Chromium job')
    .option('--skip-sweeps', 'no image-token, generated-length or threads sweeps')
    .option('--browser-memory-only', 'Chromium: only the memory jobs at --images')
    .option(
      '--webgpu <list>',
      'rungs of the Chromium WebGPU rows (SwiftShader here: emulated on the CPU, slow)',
      'none',
    )
    .option(
      '--webgpu-tokens <n>',
      'forced new tokens of a WebGPU row (default: min(--tokens, 8))',
      int('--webgpu-tokens'),
    )
    .option(
      '--app-port <port>',
      'port of the app preview (its own build folder per port, so two runs never share one)',
      port,
      4181,
    )
    .option('--json <file>', 'also write every figure to this file (saved after every job)')
    .option('--print <file>', 'print the tables of a saved report and exit (runs nothing)')
    .option('--verbose', "let the ladder builder and onnxruntime's quantizer log at INFO")
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        '  npm run bench -- --scale --rungs mini,25m,100m --threads-ab mini,25m,100m --threads-images 100,1300 --threads-only',
        '  npm run bench -- --scale --rungs 2b --quantized 2b --quantized-only --images 1300   (the opt-in 2b rung, built light)',
        '  npm run bench -- --scale --json docs/bench/scale-latest.json',
        '  npm run bench -- --scale --print docs/bench/scale-latest.json',
      ].join('\n'),
    )
    .action(async (o) => {
      if (o.print) {
        const { printReport } = await import('./print.ts');
        printReport(JSON.parse(fs.readFileSync(path.resolve(o.print), 'utf8')));
        return;
      }
      const { IMAGE_SIDES } = await import('./ladder.ts');
      for (const k of [o.images, o.threadsImages].flatMap((x) => (x ? String(x).split(',') : []))) {
        if (!(k in IMAGE_SIDES))
          throw new InvalidArgumentError(
            `image-token count ${k}: the counts are ${Object.keys(IMAGE_SIDES).join(', ')}`,
          );
      }
      const { runScale } = await import('./run.ts');
      process.exitCode = await runScale(o);
    });
}

/** `npm run bench -- --deepstack`: DeepStack's cost on the ds150m rung against its twin without. */
export function deepstackCommand(): Command {
  return new Command('npm run bench -- --deepstack')
    .description(
      "What DeepStack costs: the ladder's ds150m rung (Qwen3-VL with DeepStack) against its twin without the mergers, in Node, capturing the last layer: decode tokens/s and prefill interleaved round by round, and peak memory. Aims: decode ≤ 3 % slower, memory ≤ 1.05×.",
    )
    .option('--tokens <n>', 'forced new tokens', int('--tokens'), 32)
    .option('--rounds <n>', 'interleaved rounds (medians are printed)', int('--rounds'), 5)
    .option('--threads <n>', 'ONNX Runtime intra-op threads', int('--threads'), 1)
    .addOption(new Option('--images <list>', 'image-token counts (100, 400, 1024)').default('100,400'))
    .option('--json <file>', 'also write the rows to this file')
    .option('--verbose', 'let the ladder builder log at INFO')
    .action(async (o) => {
      const { DEEPSTACK_IMAGES, runDeepstack } = await import('./deepstack.ts');
      for (const k of String(o.images).split(','))
        if (!DEEPSTACK_IMAGES.includes(k))
          throw new InvalidArgumentError(`--images ${k}: the counts are ${DEEPSTACK_IMAGES.join(', ')}`);
      process.exitCode = await runDeepstack(o);
    });
}

/** `npm run bench -- --big-webgpu`: a folder over 4 GiB on WebGPU in Chromium (e2e/big-folder.spec.ts, opt-in part). */
export function bigWebgpuCommand(): Command {
  return new Command('npm run bench -- --big-webgpu')
    .description(
      'Builds dist/ with the harness page, then a padded folder over 4 GiB (minutes, ~4.6 GB on disk), loads it on WebGPU in headless Chromium, answers one token and writes docs/bench/big-webgpu.json (WebAssembly memory, process-tree peak, every request).',
    )
    .action(() => {
      const root = path.resolve(import.meta.dirname, '../..');
      const build = spawnSync('npx', ['vite', 'build', '--mode', 'e2e'], { cwd: root, stdio: 'inherit' });
      if (build.status !== 0) return void (process.exitCode = build.status ?? 1);
      const run = spawnSync(
        'npx',
        ['playwright', 'test', 'e2e/big-folder.spec.ts', '-g', 'opt-in', '--reporter=list'],
        {
          cwd: root,
          stdio: 'inherit',
          env: { ...process.env, SAYO_BIG_WEBGPU: '1' },
        },
      );
      process.exitCode = run.status ?? 1;
    });
}

/** `npm run bench -- --plot`: saved scale reports drawn as one SVG (and a PNG of it). */
export function plotCommand(): Command {
  return new Command('npm run bench -- --plot')
    .description(
      'Draws saved scale reports (--scale --json FILE) as one SVG; per rung, precision and kind of figure the newest report wins.',
    )
    .argument('<files...>', 'scale reports (.json), then the SVG to write')
    .option('--png <file>', 'also render the SVG to this PNG in headless Chromium')
    .action(async (files: string[], o: { png?: string }) => {
      const output = files.pop()!;
      if (!files.length || !output.endsWith('.svg'))
        throw new InvalidArgumentError('give one or more reports (.json), then the SVG to write');
      if (o.png && !o.png.endsWith('.png')) throw new InvalidArgumentError('--png takes a .png file');
      const { pickNewest, plotReports, renderPng } = await import('./plot.ts');
      const reps = files.map((file) => ({ file, rep: JSON.parse(fs.readFileSync(file, 'utf8')) }));
      const text = plotReports(pickNewest(reps)) + '\n';
      fs.writeFileSync(output, text);
      console.log(`wrote ${output}`);
      if (o.png) {
        await renderPng(text, o.png);
        console.log(`wrote ${o.png}`);
      }
    });
}

/** The program for these arguments: a mode flag picks it and is removed, the rest is that program's. */
export function commandFor(args: string[]): { program: Command; rest: string[] } {
  const modes = MODES.filter((m) => args.includes(m));
  if (modes.length > 1) throw new InvalidArgumentError(`pick one of ${modes.join(', ')}`);
  const rest = args.filter((a) => a !== modes[0]);
  const program =
    modes[0] === '--scale'
      ? scaleCommand()
      : modes[0] === '--deepstack'
        ? deepstackCommand()
        : modes[0] === '--plot'
          ? plotCommand()
          : modes[0] === '--big-webgpu'
            ? bigWebgpuCommand()
            : engineCommand();
  return { program: program.showHelpAfterError('(--help lists the options)'), rest };
}

if (process.argv[1] && path.resolve(process.argv[1]) === import.meta.filename) {
  try {
    const { program, rest } = commandFor(process.argv.slice(2));
    await program.parseAsync(rest, { from: 'user' });
  } catch (err) {
    console.error(`bench: ${(err as Error).message}`);
    process.exitCode = 2;
  }
}
