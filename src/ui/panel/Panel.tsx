/**
 * @file One side of the comparison: model name and run status, the answer text (streaming), prompt notices
 * (unknown words, downscaling), the token strip, the heatmap with the region editor, and the reward panel.
 */
import { useLens } from '../../state/store';
import type { Side } from '../../session/types';
import type { ColorScale } from '../charts/scale';
import type { PanelData } from '../compare/useCompare';
import { HeatmapView } from './HeatmapView';
import { RewardPanel } from './RewardPanel';
import { TokenStrip } from './TokenStrip';

const TITLE: Record<Side, string> = { base: 'Base', trained: 'Trained' };

/** The panel of one side (data is null until the run's prompt facts arrive). */
export function Panel({ side, data, scale, image }: { side: Side; data: PanelData | undefined; scale: ColorScale | null; image: HTMLImageElement | null }) {
  const status = useLens((s) => (s.compare === 'own' || (s.compare === 'base-answer') === (side === 'base') ? s.runs[side] : s.cross[side]).status);
  const panel = data?.panel;
  const answer = panel ? panel.steps.map((s) => s.text).join('') : '';
  return (
    <article className="panel" aria-label={`${TITLE[side]} model`}>
      <header>
        <h2>
          {TITLE[side]}: {panel?.modelName ?? '—'}
        </h2>
        <span className={`status ${status}`} data-testid={`status-${side}`}>
          {status}
          {panel?.source === 'score' ? ' (teacher-forced)' : ''}
        </span>
      </header>
      <p className="answer" data-testid={`answer-${side}`} aria-live="polite">
        {answer}
      </p>
      {panel?.prompt.unknownWords.length ? (
        <p className="notice" data-testid={`unknown-${side}`}>
          Words this model's vocabulary lacks (split into pieces, still answered): {panel.prompt.unknownWords.join(', ')}
        </p>
      ) : null}
      {panel?.prompt.notice ? <p className="notice">{panel.prompt.notice}</p> : null}
      {data && panel ? (
        <>
          <TokenStrip side={side} panel={panel} reward={data.reward} selected={data.selected} />
          {data.values && scale ? (
            <HeatmapView data={data} scale={scale} image={image} side={side} />
          ) : (
            <p className="hint">{panel.steps.length ? 'This model exposes no attention outputs: no heatmap.' : 'Waiting for the first token…'}</p>
          )}
          <RewardPanel data={data} />
        </>
      ) : null}
    </article>
  );
}
