/**
 * @file Cross-scoring's request: one model's answer teacher-forced through another model, so attention is compared on
 * identical text. The lens (cross-scoring two panels) and `sayo eval` (teacher-forced columns) build it here, so both
 * force the same tokens through `engine.score`.
 */
import type { ModelInfo } from './types.ts';

/**
 * Whether the author's token ids mean the same to the scorer: both checkpoints share the architecture (model type,
 * layers, heads). Otherwise the answer goes as text and the scorer's own tokenizer splits it.
 */
export function sharesTokenIds(scorer: ModelInfo, author: ModelInfo): boolean {
  return (
    scorer.modelType === author.modelType &&
    scorer.numLayers === author.numLayers &&
    scorer.numHeads === author.numHeads
  );
}

/** The answer part of a ScoreRequest: the author's text, with its token ids when {@link sharesTokenIds}. */
export function crossAnswer(
  text: string,
  tokenIds: readonly number[] | undefined,
  scorer: ModelInfo,
  author: ModelInfo,
): { answer: string; answerTokenIds?: number[] } {
  return tokenIds && tokenIds.length > 0 && sharesTokenIds(scorer, author)
    ? { answer: text, answerTokenIds: [...tokenIds] }
    : { answer: text };
}
