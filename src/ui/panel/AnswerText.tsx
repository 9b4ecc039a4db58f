/**
 * @file The answer of one panel as text (tags dimmed, special tokens hidden) with a "raw" toggle that shows it
 * exactly as the model wrote it. Rendered as React text, never HTML.
 */
import { memo, useState } from 'react';
import type { Side } from '../../session/types.ts';
import { answerPieces } from './answerText.ts';

/** The answer text (memoised: a box edit or a token pick re-renders its panel, not the unchanged answer). */
export const AnswerText = memo(function AnswerText({ side, answer }: { side: Side; answer: string }) {
  const [raw, setRaw] = useState(false);
  return (
    <div className="answer-row">
      <p className="answer" data-testid={`answer-${side}`} data-raw={raw ? 'true' : 'false'} aria-live="polite">
        {raw
          ? answer
          : answerPieces(answer).map((p, i) =>
              p.kind === 'special' ? null : p.kind === 'tag' ? (
                <span key={i} className="tag">
                  {p.text}
                </span>
              ) : (
                p.text
              ),
            )}
      </p>
      <button
        type="button"
        className="small"
        aria-pressed={raw}
        data-testid={`raw-${side}`}
        onClick={() => setRaw(!raw)}
        title="Show the answer exactly as generated (special tokens included)"
      >
        raw
      </button>
    </div>
  );
});
