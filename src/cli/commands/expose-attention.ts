/**
 * @file `sayo expose-attention <in.onnx> <out.onnx>`: add `decoder_attentions.<layer>` outputs to an unfused
 * decoder export without re-exporting it (see src/cli/onnx/attention.ts for how attention is found).
 */
import type { Command } from 'commander';
import { CliError, withContext } from '../lib/errors.ts';
import { exposeAttention, type Reduce } from '../onnx/attention.ts';
import { readModel, toNum, writeModel } from '../onnx/model.ts';

/** Newest IR version of the onnx.proto schema that onnx-proto 8 ships (ONNX 1.10). */
const SCHEMA_IR = 8;

interface Options {
  layers: string;
  reduce: string;
}

/** Run the rewrite; returns the lines of the report printed on stdout. */
export function runExposeAttention(input: string, output: string, options: Options): string[] {
  if (options.reduce !== 'none' && options.reduce !== 'head-mean') {
    throw new CliError(`--reduce must be none or head-mean, not "${options.reduce}"`);
  }
  const loaded = readModel(input);
  const report = exposeAttention(loaded.model, options.layers, options.reduce as Reduce);
  const written = writeModel(loaded, output);
  const lines = report.sites.map((s, i) => `  ${report.outputs[i]}  ←  ${s.tensor} (node ${s.node})`);
  const data = written.externalFiles.length > 0 ? `, external data: ${written.externalFiles.join(', ')}` : '';
  const ir = toNum(loaded.model.irVersion);
  const note = ir > SCHEMA_IR ? [`note: IR version ${ir} is newer than the ONNX 1.10 schema used here (IR ${SCHEMA_IR}); fields added since (e.g. node metadata_props) are not kept`] : [];
  return [
    ...note,
    `${output}: added ${report.outputs.length} output(s)${options.reduce === 'head-mean' ? ' (mean over heads)' : ''}${data}`,
    ...lines,
  ];
}

/** Register the command on `program`. */
export function register(program: Command): void {
  program
    .command('expose-attention')
    .description('add decoder_attentions.<layer> outputs to an unfused decoder ONNX export')
    .argument('<in>', 'decoder ONNX file (external data next to it is kept)')
    .argument('<out>', 'ONNX file to write')
    .option('--layers <spec>', 'last | all | comma list of 0-based layers', 'last')
    .option('--reduce <mode>', 'none (per head) | head-mean', 'none')
    .action(async (input: string, output: string, options: Options) => {
      const lines = await withContext(`cannot rewrite ${input}`, () => runExposeAttention(input, output, options));
      process.stdout.write(lines.join('\n') + '\n');
    });
}
