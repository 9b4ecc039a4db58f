/**
 * @file Prompt preparation: one image + one question → the chat-template prompt, the processor's tensors and the
 * {@link PromptInfo} facts (grid from image_grid_thw, image-token span from input_ids, unknown words).
 * See models/CONTRACT.md "Prompt" and "Visual-token geometry".
 */
import type { RawImage } from '@huggingface/transformers';
import { gridFor, GeometryError } from '../core/geometry.ts';
import { checkPromptTokens, checkQuestionLength, LimitError } from '../core/limits.ts';
import type { LoadedModel } from './loaded.ts';
import { EngineError, type PromptInfo } from './types.ts';

/** Tokenizers with fewer entries than this report question words they split into pieces. */
const SMALL_VOCAB = 10_000;

/** The processor output plus the facts about it. */
export interface PreparedPrompt {
  /** input_ids, attention_mask, pixel_values, image_grid_thw (transformers.js Tensors). */
  inputs: Record<string, any>;
  ids: number[];
  info: PromptInfo;
}

/**
 * Refuses a question that is too long or that carries a special token of the tokenizer (`<|im_end|>`,
 * `<|image_pad|>`, …): typed into the text, it would be read as structure (end the user turn, add image slots).
 */
export function checkQuestion(m: Pick<LoadedModel, 'tokenizer'>, question: string): void {
  if (typeof question !== 'string' || question.trim() === '')
    throw new EngineError('bad_input', 'The question is empty.');
  try {
    checkQuestionLength(question);
  } catch (e) {
    throw new EngineError(
      'bad_input',
      `The question is too long: ${(e as LimitError).message.replace(/^question: /, '')}.`,
    );
  }
  const specials: string[] = (m.tokenizer?.all_special_tokens ?? []).filter(
    (t: unknown) => typeof t === 'string' && t.length > 1,
  );
  const found = specials.filter((t) => question.includes(t));
  if (found.length > 0) {
    throw new EngineError(
      'bad_input',
      `The question contains the special token${found.length > 1 ? 's' : ''} ${found.map((t) => JSON.stringify(t)).join(', ')}, which would ` +
        "change the structure of the prompt; remove it (accepted: plain text without the tokenizer's special tokens).",
    );
  }
}

/**
 * Builds the prompt exactly as the trainer does (fixtures/prompt-cases.json checks it).
 * @param newTokens tokens the answer may add: the prompt plus these must fit max_position_embeddings
 */
export async function preparePrompt(
  m: LoadedModel,
  image: RawImage,
  question: string,
  newTokens = 0,
): Promise<PreparedPrompt> {
  checkQuestion(m, question);
  let grid;
  try {
    grid = gridFor({ width: image.width, height: image.height }, m.geometry);
  } catch (e) {
    if (e instanceof GeometryError) throw new EngineError('bad_image', `The image cannot be used: ${e.message}`);
    throw e;
  }
  const messages = [{ role: 'user', content: [{ type: 'image' }, { type: 'text', text: question }] }];
  const text = m.processor.apply_chat_template(messages, { add_generation_prompt: true }) as string;
  const inputs = await m.processor(text, image);
  const gridThw = (inputs.image_grid_thw.tolist()[0] as Array<bigint | number>).map(Number) as [number, number, number];
  const merge = m.geometry.merge_size;
  if (gridThw[1] / merge !== grid.rows || gridThw[2] / merge !== grid.cols) {
    throw new EngineError(
      'internal',
      `Processor grid ${gridThw.join('×')} disagrees with the core geometry ${grid.rows}×${grid.cols} (merge ${merge}).`,
    );
  }
  const ids = (inputs.input_ids.tolist()[0] as Array<bigint | number>).map(Number);
  try {
    checkPromptTokens(ids.length, newTokens, maxPositions(m.config));
  } catch (e) {
    throw new EngineError(
      'bad_input',
      `The prompt does not fit the model: ${(e as LimitError).message.replace(/^question: /, '')}.`,
    );
  }
  const start = ids.indexOf(m.imageTokenId);
  let length = 0;
  while (start >= 0 && ids[start + length] === m.imageTokenId) length++;
  const n = grid.rows * grid.cols;
  const total = ids.filter((t) => t === m.imageTokenId).length;
  if (start < 0 || length !== n || total !== n) {
    throw new EngineError(
      'internal',
      `Expected one run of ${n} image tokens in the prompt, found ${total} (first run ${length}).`,
    );
  }
  const info: PromptInfo = {
    image: { width: image.width, height: image.height },
    resized: { ...grid.resized },
    gridThw,
    grid: { rows: grid.rows, cols: grid.cols },
    imageSpan: { start, length },
    promptTokens: ids.length,
    inputIds: ids,
    unknownWords: unknownWords(m, question),
  };
  const notice = resizeNotice(image, grid.resized, m.geometry, n);
  if (notice) info.notice = notice;
  return { inputs, ids, info };
}

/** The model's context length (max_position_embeddings, top level or text_config). */
export function maxPositions(config: Record<string, any>): number | undefined {
  const v = config?.max_position_embeddings ?? config?.text_config?.max_position_embeddings;
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : undefined;
}

/** Question words the tokenizer splits into several pieces (only for small vocabularies, e.g. SAYO-mini's). */
export function unknownWords(m: LoadedModel, question: string): string[] {
  if (m.vocabSize >= SMALL_VOCAB) return [];
  const out: string[] = [];
  const words = question.match(/[\p{L}\p{N}]+(?:['’][\p{L}]+)?/gu) ?? [];
  for (const [i, w] of words.entries()) {
    const pieces = m.tokenizer.encode(i === 0 && question.trimStart().startsWith(w) ? w : ` ${w}`, {
      add_special_tokens: false,
    });
    if (pieces.length > 1 && !out.includes(w)) out.push(w);
  }
  return out;
}

function resizeNotice(
  image: RawImage,
  resized: { width: number; height: number },
  g: { min_pixels: number; max_pixels: number },
  n: number,
): string | undefined {
  const area = image.width * image.height;
  const to = `${resized.width}×${resized.height} (${n} visual tokens)`;
  if (area > g.max_pixels)
    return `Image downscaled from ${image.width}×${image.height} to ${to} to fit max_pixels ${g.max_pixels}.`;
  if (area < g.min_pixels)
    return `Image upscaled from ${image.width}×${image.height} to ${to} to reach min_pixels ${g.min_pixels}.`;
  if (resized.width !== image.width || resized.height !== image.height) {
    return `Image resized from ${image.width}×${image.height} to ${to} (sides rounded to the visual-token cell).`;
  }
  return undefined;
}
