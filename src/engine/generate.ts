/**
 * @file Generation with capture, and teacher-forced scoring.
 *
 * We drive our own decode loop over transformers.js's own building blocks (`prepare_inputs_for_generation` for the
 * M-RoPE positions and the vision pass, `forward`, `_update_model_kwargs_for_generation` for the KV cache) instead of
 * calling `generate()`, because `generate()` only hands attention back when it returns, its streamers never see the
 * attention tensors, its sampler cannot be seeded, and it keeps every step's tensors alive. Our loop emits each token's
 * {@link StepRecord} the moment its forward pass returns, yields to the event loop (at most every 8 ms) so a cancel
 * can land between steps, fetches from ORT only the attention outputs it captures, and disposes logits, attention
 * outputs and past key values as it goes (memory bounded over long answers).
 *
 * Step t's attention is the row of the query that produced token t: the last prompt row at prefill, then the single
 * row of each decode step — the last row of each call, which is all an export with last-row attention outputs
 * carries. `score()` is the same loop with the answer's tokens forced instead of chosen, so it reads the same rows.
 */
import { argmax, entropyFromLogits } from '../core/aggregate.ts';
import { captureRow, type AttentionData } from './capture.ts';
import type { AttentionOutput, LoadedModel } from './loaded.ts';
import type { PreparedPrompt } from './prompt.ts';
import { mulberry32, sampleToken } from './sampling.ts';
import {
  EngineError,
  type GenerateRequest,
  type GenerationCallbacks,
  type RunSummary,
  type ScoreRequest,
  type StepRecord,
} from './types.ts';

export const DEFAULT_MAX_NEW_TOKENS = 64;
const MAX_NEW_TOKENS_LIMIT = 4096;
/** The decode loop yields to the event loop (so a cancel can land) at most this often, not after every token. */
const YIELD_INTERVAL_MS = 8;
const ATTENTION_OUTPUT = /^decoder_attentions\.\d+$/;

const now = () => performance.now();

/** The captured outputs for a run: all exposed layers unless the request names a subset ([] = none). */
export function selectOutputs(m: LoadedModel, layers: number[] | undefined): AttentionOutput[] {
  if (layers === undefined) return m.attentionOutputs;
  const missing = layers.filter((l) => !m.attentionOutputs.some((o) => o.layer === l));
  if (missing.length) {
    throw new EngineError('bad_input', `Layer(s) ${missing.join(', ')} have no attention output in this model.`);
  }
  return m.attentionOutputs.filter((o) => layers.includes(o.layer));
}

function floatData(t: any): Float32Array {
  const data = t.type === 'float32' ? t.data : t.to('float32').data;
  return data as Float32Array;
}

/** One row of logits [1, q, V] as a fresh Float32Array. */
function logitsRow(logits: any, row: number): Float32Array {
  const V = logits.dims[2];
  return floatData(logits).slice(row * V, (row + 1) * V);
}

function buildStep(
  m: LoadedModel,
  outputs: Record<string, any>,
  captured: AttentionOutput[],
  index: number,
  tokenId: number,
  entropy: number,
  n: number,
  span: { start: number; length: number },
  timing: { captureMs: number },
): StepRecord {
  const t0 = now();
  const tensors: AttentionData[] = captured.map((o) => ({
    data: floatData(outputs[o.name]),
    dims: outputs[o.name].dims,
  }));
  const cap = captureRow(tensors, 'last', span);
  timing.captureMs += now() - t0;
  return {
    index,
    tokenId,
    text: m.tokenizer.decode([tokenId], { skip_special_tokens: false }),
    entropy,
    layers: captured.map((o) => o.layer),
    heads: captured.length ? cap.heads : m.info.numHeads,
    n,
    attention: cap.attention,
    imageShare: cap.imageShare,
    rowSum: cap.rowSum,
  };
}

/**
 * Runs `fn` with the decoder session fetching only what the run reads: logits, present.* and the captured layers'
 * decoder_attentions. ORT still computes the other attention probabilities (the layers need them) but neither copies
 * them out nor keeps them: at prefill each is heads × prompt² floats. transformers.js calls `session.run(feeds)`;
 * ORT's `run(feeds, fetches)` takes the list of output names.
 */
export async function fetchingOnly<T>(m: LoadedModel, captured: AttentionOutput[], fn: () => Promise<T>): Promise<T> {
  const session = m.model.sessions?.decoder_model_merged ?? m.model.sessions?.model;
  const names: string[] = session?.outputNames ?? [];
  const keep = new Set(captured.map((o) => o.name));
  const fetches = names.filter((n) => !ATTENTION_OUTPUT.test(n) || keep.has(n));
  if (fetches.length === names.length) return fn();
  const run = session.run;
  session.run = (feeds: unknown, ...rest: unknown[]) =>
    rest.length ? run.call(session, feeds, ...rest) : run.call(session, feeds, fetches);
  try {
    return await fn();
  } finally {
    session.run = run;
  }
}

/** Frees per-step outputs other than the KV cache (which the cache owns). */
function disposeStepOutputs(outputs: Record<string, any> | undefined, keep: Set<unknown>): void {
  if (!outputs) return;
  for (const [name, t] of Object.entries(outputs)) {
    if (!keep.has(t) && !name.startsWith('present')) t?.dispose?.();
  }
}

/** Frees GPU-resident present.* tensors that no cache holds. */
function disposeUncachedPresents(outputs: Record<string, any> | undefined, keep: Set<unknown>): void {
  if (!outputs) return;
  for (const [name, t] of Object.entries(outputs)) {
    if (name.startsWith('present') && !keep.has(t) && t?.location === 'gpu-buffer') t.dispose();
  }
}

/** Greedy (or seeded sampling) decode with per-token capture. */
export async function runGeneration(
  m: LoadedModel,
  prompt: PreparedPrompt,
  req: GenerateRequest,
  cb: GenerationCallbacks,
  signal: AbortSignal | undefined,
  yieldToEvents: () => Promise<void>,
): Promise<RunSummary> {
  return fetchingOnly(m, selectOutputs(m, req.captureLayers), () =>
    decodeLoop(m, prompt, req, cb, signal, yieldToEvents),
  );
}

/**
 * The decode loop. With `forced`, each step takes the next forced token instead of choosing one (entropy at
 * temperature 1) and the loop ends after the last forced token: teacher forcing, one call per token.
 */
async function decodeLoop(
  m: LoadedModel,
  prompt: PreparedPrompt,
  req: GenerateRequest,
  cb: GenerationCallbacks,
  signal: AbortSignal | undefined,
  yieldToEvents: () => Promise<void>,
  forced?: number[],
): Promise<RunSummary> {
  const maxNew = forced ? forced.length : (req.maxNewTokens ?? DEFAULT_MAX_NEW_TOKENS);
  if (!Number.isInteger(maxNew) || maxNew < 1 || maxNew > MAX_NEW_TOKENS_LIMIT) {
    throw new EngineError('bad_input', `maxNewTokens must be an integer in 1…${MAX_NEW_TOKENS_LIMIT}, got ${maxNew}.`);
  }
  const temperature = req.sampling?.temperature ?? 0;
  if (!(temperature >= 0) || !Number.isFinite(temperature))
    throw new EngineError('bad_input', `temperature must be ≥ 0, got ${temperature}.`);
  const greedy = temperature === 0;
  const rng = mulberry32(req.sampling?.seed ?? 0);
  const captured = selectOutputs(m, req.captureLayers);
  const span = prompt.info.imageSpan;
  const n = prompt.info.grid.rows * prompt.info.grid.cols;

  const model = m.model;
  const allIds: bigint[][] = [prompt.ids.map(BigInt)];
  let inputs: Record<string, any> = { ...prompt.inputs };
  const tokens: number[] = [];
  let outputs: Record<string, any> | undefined;
  let stoppedBy: RunSummary['stoppedBy'];
  let prefillMs = 0;
  let decodeMs = 0;
  const timing = { captureMs: 0 };
  let lastYield = now();
  try {
    cb.onPrompt?.(prompt.info);
    while (true) {
      if (signal?.aborted) {
        stoppedBy = 'cancel';
        break;
      }
      const t0 = now();
      inputs = model.prepare_inputs_for_generation(allIds, inputs, model.generation_config);
      outputs = (await model.forward(inputs)) as Record<string, any>;
      const logits = logitsRow(outputs.logits, outputs.logits.dims[1] - 1);
      let tokenId: number;
      let entropy: number;
      if (forced) {
        tokenId = forced[tokens.length];
        entropy = entropyFromLogits(logits, 1);
      } else {
        if (tokens.length < (req.minNewTokens ?? 0)) for (const eos of m.eosIds) logits[eos] = -Infinity;
        tokenId = greedy ? argmax(logits) : sampleToken(logits, temperature, req.sampling?.topP, rng);
        entropy = entropyFromLogits(logits, greedy ? 1 : temperature);
      }
      const step = buildStep(m, outputs, captured, tokens.length, tokenId, entropy, n, span, timing);
      tokens.push(tokenId);
      cb.onStep?.(step);
      if (tokens.length === 1) prefillMs = now() - t0;
      else decodeMs += now() - t0;

      const done = forced
        ? tokens.length >= maxNew
          ? m.eosIds.has(tokenId)
            ? 'eos'
            : 'max_tokens'
          : null
        : m.eosIds.has(tokenId)
          ? 'eos'
          : tokens.length >= maxNew
            ? 'max_tokens'
            : null;
      if (done) {
        stoppedBy = done;
        break;
      }
      allIds[0].push(BigInt(tokenId));
      inputs = model._update_model_kwargs_for_generation({
        generated_input_ids: [[BigInt(tokenId)]],
        outputs,
        model_inputs: inputs,
        is_encoder_decoder: false,
      });
      disposeStepOutputs(outputs, new Set());
      outputs = undefined;
      if (now() - lastYield >= YIELD_INTERVAL_MS) {
        await yieldToEvents();
        lastYield = now();
      }
    }
  } finally {
    const cache = inputs.past_key_values;
    const kept = new Set<unknown>(cache ? Object.values(cache) : []);
    disposeStepOutputs(outputs, kept);
    disposeUncachedPresents(outputs, kept);
    await cache?.dispose?.();
  }
  return {
    tokens: tokens.length,
    stoppedBy,
    text: decodeText(m, tokens),
    prefillMs,
    decodeMs,
    captureMs: timing.captureMs,
  };
}

/** The answer text of some token ids; none (a run stopped before its first token) is the empty answer. */
function decodeText(
  m: { tokenizer: { decode(ids: number[], o: { skip_special_tokens: boolean }): string } },
  ids: number[],
): string {
  return ids.length === 0 ? '' : m.tokenizer.decode(ids, { skip_special_tokens: true });
}

/** Answer token ids for scoring: the given ids, or the text's tokens followed by the end-of-turn token. */
export function answerIds(m: LoadedModel, req: ScoreRequest): number[] {
  if (req.answerTokenIds?.length) return req.answerTokenIds;
  if (typeof req.answer !== 'string' || req.answer.trim() === '')
    throw new EngineError('bad_input', 'The answer to score is empty.');
  const ids: number[] = Array.from(m.tokenizer.encode(req.answer, { add_special_tokens: false }) as number[]);
  const eos = [...m.eosIds][0];
  if (eos !== undefined && ids[ids.length - 1] !== eos) ids.push(eos);
  return ids;
}

/**
 * Teacher-forced scoring: the decode loop over prompt + answer with the answer's tokens forced, one StepRecord per
 * answer token. Each step reads the last attention row of its call, as generation does, so it serves graphs that
 * carry only that row as well as graphs with every row.
 */
export async function runScore(
  m: LoadedModel,
  prompt: PreparedPrompt,
  req: ScoreRequest,
  cb: GenerationCallbacks,
  signal: AbortSignal | undefined,
  yieldToEvents: () => Promise<void>,
): Promise<RunSummary> {
  const answer = answerIds(m, req);
  const vocab = m.config.vocab_size ?? m.config.text_config?.vocab_size;
  const bad = answer.find((t) => !Number.isInteger(t) || t < 0 || (vocab && t >= vocab));
  if (bad !== undefined) throw new EngineError('bad_input', `Answer token id ${bad} is outside the vocabulary.`);
  const gen: GenerateRequest = { image: req.image, question: req.question, captureLayers: req.captureLayers };
  return fetchingOnly(m, selectOutputs(m, req.captureLayers), () =>
    decodeLoop(m, prompt, gen, cb, signal, yieldToEvents, answer),
  );
}
