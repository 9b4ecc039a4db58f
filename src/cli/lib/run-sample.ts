/**
 * @file One greedy answer (or a teacher-forced one) through the engine with its capture: the step records, the prompt facts, the token grid
 * (core geometry, checked against the processor's) and the box tokens. Shared by `sayo ask` and `sayo eval`.
 */
import { boxToTokens, GeometryError, gridFor, type Box, type Grid } from '../../core/geometry.ts';
import type {
  AttentionEngine,
  GenerationCallbacks,
  ImageInput,
  ModelInfo,
  PromptInfo,
  RunSummary,
  StepRecord,
} from '../../engine/types.ts';
import { CliError } from './errors.ts';

/** The contract's decoding budget for metrics (models/CONTRACT.md). */
export const METRIC_MAX_NEW_TOKENS = 24;

/** What one answer produced. */
export interface SampleRun {
  summary: RunSummary;
  steps: StepRecord[];
  prompt: PromptInfo;
  grid: Grid;
  /** Box tokens (sorted union); empty without boxes. */
  targets: Int32Array;
  /** Wall time of the generate call, ms. */
  ms: number;
}

/**
 * Generate greedily and collect the capture of the last decoder layer (the one every metric uses). Throws `CliError` when a box selects no token, and when the core grid
 * disagrees with the processor's (which would make every attention metric wrong).
 */
export async function runSample(
  engine: AttentionEngine,
  info: ModelInfo,
  image: ImageInput,
  question: string,
  boxes: Box[],
  maxNewTokens = METRIC_MAX_NEW_TOKENS,
): Promise<SampleRun> {
  return capture(info, boxes, (captureLayers, callbacks) =>
    engine.generate(info.handle, { image, question, maxNewTokens, captureLayers }, callbacks),
  );
}

/**
 * Teacher-force an answer (another model's greedy text, or its token ids: see engine/cross.ts) through `info`'s model
 * with the same capture as {@link runSample}: the engine's `score`, the call the lens's cross-scoring makes.
 */
export async function scoreSample(
  engine: AttentionEngine,
  info: ModelInfo,
  image: ImageInput,
  question: string,
  boxes: Box[],
  answer: { answer: string; answerTokenIds?: number[] },
): Promise<SampleRun> {
  return capture(info, boxes, (captureLayers, callbacks) =>
    engine.score(info.handle, { image, question, ...answer, captureLayers }, callbacks),
  );
}

async function capture(
  info: ModelInfo,
  boxes: Box[],
  call: (captureLayers: number[], callbacks: GenerationCallbacks) => Promise<RunSummary>,
): Promise<SampleRun> {
  const steps: StepRecord[] = [];
  let prompt: PromptInfo | undefined;
  const start = performance.now();
  const last = info.numLayers - 1;
  const captureLayers = info.attentionLayers.includes(last) ? [last] : [];
  const summary = await call(captureLayers, {
    onPrompt: (p) => {
      prompt = p;
    },
    onStep: (s) => {
      steps.push(s);
    },
  });
  const ms = performance.now() - start;
  if (!prompt) throw new CliError('the engine sent no prompt information');
  const grid = gridFor(prompt.image, info.processor);
  if (grid.rows !== prompt.grid.rows || grid.cols !== prompt.grid.cols) {
    throw new CliError(
      `token grid mismatch: core ${grid.rows}×${grid.cols}, processor ${prompt.grid.rows}×${prompt.grid.cols}`,
    );
  }
  let targets: Int32Array = new Int32Array(0);
  if (boxes.length > 0) {
    try {
      targets = boxToTokens(boxes, grid);
    } catch (err) {
      if (err instanceof GeometryError) throw new CliError(err.message);
      throw err;
    }
  }
  return { summary, steps, prompt, grid, targets, ms };
}
