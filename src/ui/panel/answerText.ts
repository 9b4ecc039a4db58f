/**
 * @file An answer as a reader sees it: special tokens (`<|im_end|>`, `<|endoftext|>`, …) hidden, markup tags
 * (`<answer>`, `</think>`, …) kept but dimmed; the raw text is one toggle away.
 */

/** One piece of an answer: plain text, a dimmed tag, or a hidden special token. */
export interface AnswerPiece {
  kind: 'text' | 'tag' | 'special';
  text: string;
}

const PATTERN = /(<\|[^|<>]*\|>)|(<\/?[A-Za-z_][\w-]*>)/g;

/** Splits an answer into text, tags and special tokens (concatenated, the pieces give back the answer). */
export function answerPieces(answer: string): AnswerPiece[] {
  const out: AnswerPiece[] = [];
  let last = 0;
  for (const m of answer.matchAll(PATTERN)) {
    if (m.index > last) out.push({ kind: 'text', text: answer.slice(last, m.index) });
    out.push({ kind: m[1] ? 'special' : 'tag', text: m[0] });
    last = m.index + m[0].length;
  }
  if (last < answer.length) out.push({ kind: 'text', text: answer.slice(last) });
  return out;
}
