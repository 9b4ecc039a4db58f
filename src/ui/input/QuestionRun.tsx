/**
 * @file The question box and the Run / Stop / Cross-score buttons. Run is disabled (and says why) while no
 * checkpoint is ready: a load, a reload on another backend, or a failed load.
 */
import { useLens } from '../../state/store.ts';
import { useCommands } from '../commands.tsx';

/** Question input plus run controls. */
export function QuestionRun() {
  const question = useLens((s) => s.question);
  const setQuestion = useLens((s) => s.setQuestion);
  const running = useLens((s) =>
    Object.values(s.runs)
      .concat(Object.values(s.cross))
      .some((r) => r.status === 'running'),
  );
  const canCross = useLens((s) => s.runs.base.status === 'done' && s.runs.trained.status === 'done');
  const ready = useLens((s) => s.status.base.state === 'ready' || s.status.trained.state === 'ready');
  const commands = useCommands();
  const runnable = !running && ready && !!commands;
  return (
    <form
      className="question"
      onSubmit={(e) => {
        e.preventDefault();
        if (runnable) void commands?.run();
      }}
    >
      <label htmlFor="question">Question</label>
      <input
        id="question"
        data-testid="question-input"
        value={question}
        placeholder="e.g. What colour is the square?"
        onChange={(e) => setQuestion(e.currentTarget.value)}
      />
      <button
        type="submit"
        data-testid="run-button"
        disabled={!runnable}
        title={ready ? undefined : 'Waiting for a checkpoint to load'}
      >
        {running ? 'Running…' : 'Run both'}
      </button>
      <button type="button" data-testid="stop-button" disabled={!running} onClick={() => commands?.stop()}>
        Stop
      </button>
      <button
        type="button"
        data-testid="cross-button"
        disabled={running || !canCross || !ready || !commands}
        title="Teacher-force each answer through the other model, so attention is compared on identical tokens"
        onClick={() => void commands?.crossScore()}
      >
        Cross-score
      </button>
      {!ready && commands ? (
        <span className="hint" data-testid="run-wait">
          Run is enabled once a checkpoint is ready.
        </span>
      ) : null}
    </form>
  );
}
