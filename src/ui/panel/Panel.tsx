/**
 * @file One side of the comparison: model name and run status, the answer as text (raw on demand), the word notice,
 * the token strip with this panel's own picked token, then the reward figures ABOVE the heatmap with the region
 * editor (so the reward stays in sight while a box is dragged), and the R_a sparkline. A panel still waiting for its
 * first token says so instead of showing empty figures.
 */
import { useLens } from '../../state/store.ts';
import type { Side } from '../../session/types.ts';
import type { ColorScale } from '../charts/scale.ts';
import type { PanelData } from '../compare/useCompare.ts';
import { AnswerText } from './AnswerText.tsx';
import { HeatmapView } from './HeatmapView.tsx';
import { RewardPanel, RewardSpark } from './RewardPanel.tsx';
import { panelToken } from './pickedToken.ts';
import { TokenStrip, type StripScales } from './TokenStrip.tsx';

const TITLE: Record<Side, string> = { base: 'Base', trained: 'Trained' };

const STATUS_TEXT: Record<string, string> = {
  idle: 'idle',
  running: 'running',
  done: 'done',
  stopped: 'stopped',
  error: 'error',
  interrupted: 'interrupted (reloaded mid-answer)',
};

/** "token #3 “red”" for the panel's own picked token (or the aggregate's name). */
function pickedLabel(data: PanelData): string {
  const t = data.token;
  if (t === null) return 'no token yet';
  if (t === 'all') return 'all tokens';
  if (t === 'selected') return 'top-30 % entropy tokens';
  return `token #${t} “${data.panel.steps[t]?.text ?? ''}”`;
}

/** The panel of one side (data is null until the run's prompt facts arrive). */
export function Panel({
  side,
  data,
  scale,
  image,
  strips,
}: {
  side: Side;
  data: PanelData | undefined;
  scale: ColorScale | null;
  image: HTMLImageElement | null;
  strips?: StripScales | null;
}) {
  const status = useLens(
    (s) =>
      (s.compare === 'own' || (s.compare === 'base-answer') === (side === 'base') ? s.runs[side] : s.cross[side])
        .status,
  );
  const asked = useLens((s) => s.view.token);
  const panel = data?.panel;
  const answer = panel ? panel.steps.map((s) => s.text).join('') : '';
  const waiting = status === 'running' && (!panel || panel.steps.length === 0);
  // Only a pick beyond this answer's end is clamped (a hovered token is a preview, not a pick).
  const own = panel && typeof asked === 'number' ? panelToken(asked, panel.steps.length) : null;
  const clamped = typeof own === 'number' && own !== asked;
  return (
    <article className="panel" aria-label={`${TITLE[side]} model`} data-testid={`panel-${side}`}>
      <header>
        <h2>
          {TITLE[side]}: {panel?.modelName ?? '—'}
        </h2>
        <span className={`status ${status}`} data-testid={`status-${side}`}>
          {STATUS_TEXT[status] ?? status}
          {panel?.source === 'score' ? ' (teacher-forced)' : ''}
        </span>
      </header>
      {waiting ? (
        <p className="hint waiting" data-testid={`waiting-${side}`}>
          Waiting for the first token…
        </p>
      ) : (
        <AnswerText side={side} answer={answer} />
      )}
      {panel && panel.steps.length === 0 && !waiting && status !== 'running' ? (
        <p className="hint" data-testid={`no-token-${side}`}>
          No token of this answer was kept ({status === 'interrupted' ? 'the page was reloaded' : 'the run ended'}{' '}
          before the first one). Run again to answer.
        </p>
      ) : null}
      {panel?.prompt.unknownWords.length ? (
        <p className="notice" data-testid={`unknown-${side}`}>
          Words this model's vocabulary lacks (split into pieces, still answered):{' '}
          {panel.prompt.unknownWords.join(', ')}
        </p>
      ) : null}
      {data && panel && panel.steps.length > 0 ? (
        <>
          <TokenStrip
            side={side}
            panel={panel}
            reward={data.reward}
            selected={data.selected}
            picked={data.token}
            scales={strips}
          />
          <p
            className="picked-line"
            data-testid={`picked-${side}`}
            data-index={typeof data.token === 'number' ? data.token : ''}
          >
            Showing {pickedLabel(data)}
            {clamped ? ` — this answer ends at #${own} (picked #${asked as number})` : ''}
          </p>
          <RewardPanel data={data} />
          {data.values && scale ? (
            <HeatmapView data={data} scale={scale} image={image} side={side} />
          ) : (
            <p className="hint">This model exposes no attention outputs: no heatmap.</p>
          )}
          <RewardSpark data={data} />
        </>
      ) : null}
    </article>
  );
}
