/**
 * @file Cross-scoring: each model's answer teacher-forced through the other model, so attention is compared on
 * identical tokens; afterwards the view shows the base answer under both models.
 */
import { crossAnswer } from '../../engine/cross.ts';
import { SIDES, type CommandContext } from './shared.ts';
import type { createRunner } from './run.ts';

export function createCrossScore(ctx: CommandContext, runner: ReturnType<typeof createRunner>) {
  const { engine, store, handles } = ctx;
  return async function crossScore(): Promise<void> {
    const input = runner.validInput();
    if (!input) return;
    const s = store.getState();
    const answers = { base: s.runs.base.panel, trained: s.runs.trained.panel };
    if (!answers.base?.steps.length || !answers.trained?.steps.length) {
      s.setError('run-base', 'Run both models first: cross-scoring teacher-forces one answer through the other model.');
      return;
    }
    // cross[side] = the OTHER side's answer scored under `side`'s model.
    await Promise.all(
      SIDES.map((side) => {
        const other = answers[side === 'base' ? 'trained' : 'base']!;
        const text = other.steps.map((t) => t.text).join('');
        // Token ids are only meaningful to the same tokenizer: crossAnswer passes them when both share the architecture.
        const mine = handles[side]?.info;
        const theirs = handles[side === 'base' ? 'trained' : 'base']?.info;
        const answer =
          mine && theirs
            ? crossAnswer(
                text,
                other.steps.map((t) => t.tokenId),
                mine,
                theirs,
              )
            : { answer: text };
        return runner.stream(side, 'cross', (info, callbacks, signal) =>
          engine.score(info.handle, { ...input, ...answer }, callbacks, signal),
        );
      }),
    );
    const after = store.getState();
    if (after.cross.trained.status === 'done' && after.compare === 'own') after.setCompare('base-answer');
  };
}
