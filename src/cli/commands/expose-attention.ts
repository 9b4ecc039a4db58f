/**
 * @file `sayo expose-attention <in.onnx> <out.onnx>`: add `decoder_attentions.<layer>` outputs (and, on request,
 * `cross_attentions.<layer>`) to an unfused decoder export without re-exporting it (see src/cli/onnx/attention.ts for
 * how attention is found). The result is written to a temporary file, loaded once in onnxruntime, then renamed.
 */
import type { Command } from 'commander';
import { CliError, withContext } from '../lib/errors.ts';
import { exposeAttention, type Reduce } from '../onnx/attention.ts';
import { readModel, toNum, writeModelChecked } from '../onnx/model.ts';
import { ortLoadError } from '../onnx/ort-check.ts';

/** Newest IR version of the onnx.proto schema that onnx-proto 8 ships (ONNX 1.10). */
const SCHEMA_IR = 8;

export interface ExposeCommandOptions {
  layers: string;
  crossLayers?: string;
  reduce: string;
  /** false: skip loading the input and the result in onnxruntime (`--no-check`). */
  check?: boolean;
}

/** Refuse when onnxruntime cannot load the written file; say whether the input or the rewrite is at fault. */
async function checkLoads(input: string, written: string): Promise<void> {
  const problem = await ortLoadError(written);
  if (!problem) return;
  const inputProblem = await ortLoadError(input);
  if (inputProblem) {
    throw new CliError(
      `onnxruntime cannot load ${input} (${inputProblem}); the file is corrupt or not an ONNX model onnxruntime runs: re-export or re-download it`,
    );
  }
  throw new CliError(
    `the rewritten graph does not load in onnxruntime (${problem}); nothing was written: please report this graph`,
  );
}

/** Run the rewrite; returns the lines of the report printed on stdout. */
export async function runExposeAttention(
  input: string,
  output: string,
  options: ExposeCommandOptions,
): Promise<string[]> {
  if (options.reduce !== 'none' && options.reduce !== 'head-mean') {
    throw new CliError(`--reduce must be none or head-mean, not "${options.reduce}"`);
  }
  const loaded = readModel(input);
  const report = exposeAttention(loaded.model, {
    layers: options.layers,
    crossLayers: options.crossLayers,
    reduce: options.reduce as Reduce,
  });
  const written = await writeModelChecked(
    loaded,
    output,
    options.check === false ? async () => {} : (tmp) => checkLoads(input, tmp),
  );
  const lines = report.sites.map(
    (s, i) =>
      `  ${report.outputs[i]}  ←  ${s.tensor} (node ${s.node}${s.rank === 3 ? ', 3-D [batch·heads, q, k] reshaped to [batch, heads, q, k]' : ''})`,
  );
  const data = written.externalFiles.length > 0 ? `, external data: ${written.externalFiles.join(', ')}` : '';
  const ir = toNum(loaded.model.irVersion);
  const notes =
    ir > SCHEMA_IR
      ? [
          `note: IR version ${ir} is newer than the ONNX 1.10 schema used here (IR ${SCHEMA_IR}); fields added since (e.g. node metadata_props) are not kept`,
        ]
      : [];
  const shapeless = report.outputs.filter((_, i) => report.sites[i].rank === undefined);
  if (shapeless.length > 0) {
    notes.push(
      `note: the rank of ${shapeless.join(', ')} could not be derived from the graph; declared with the element type and no shape`,
    );
  }
  if (report.skippedCross.length > 0) {
    notes.push(
      `note: ${report.skippedCross.length} cross-attention layer(s) (keys from encoder states) not exposed; add --cross-layers all to expose them as cross_attentions.<l>`,
    );
  }
  return [
    `${output}: added ${report.outputs.length} output(s)${options.reduce === 'head-mean' ? ' (mean over heads)' : ''}${data}`,
    ...lines,
    ...notes,
  ];
}

/** Register the command on `program`. */
export function register(program: Command): void {
  program
    .command('expose-attention')
    .description('add decoder_attentions.<layer> outputs to an unfused decoder ONNX export')
    .argument('<in>', 'decoder ONNX file (external data next to it is kept)')
    .argument('<out>', 'ONNX file to write (never the input or its .onnx_data)')
    .option('--layers <spec>', 'self-attention layers: last | all | comma list of 0-based layers', 'last')
    .option(
      '--cross-layers <spec>',
      'also expose cross-attention (seq2seq decoders) as cross_attentions.<l>: last | all | list',
    )
    .option('--reduce <mode>', 'none (per head) | head-mean', 'none')
    .option(
      '--no-check',
      'skip loading the input and the result in onnxruntime (large models: saves the memory of one session)',
    )
    .action(async (input: string, output: string, options: ExposeCommandOptions) => {
      const lines = await withContext(`cannot rewrite ${input}`, () => runExposeAttention(input, output, options));
      process.stdout.write(lines.join('\n') + '\n');
    });
}
