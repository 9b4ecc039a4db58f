/**
 * @file View controls shared by both panels: compare mode (own answers / cross-scored), layer, head mode,
 * normalisation, heatmap opacity, what colours the token strip, the per-head small multiples toggle, and which
 * attention row a token owns in the reward figures (the alignment).
 */
import { useShallow } from 'zustand/react/shallow';
import type { HeadMode, NormMode } from '../core/aggregate.ts';
import { ALIGNMENTS, type Alignment } from '../core/reward.ts';
import type { CompareMode } from '../state/slices/run.ts';
import { LAST_LAYER } from '../state/slices/view.ts';
import { useLens } from '../state/store.ts';

/** What each alignment means, in a few words (the explainer gives the reason for the default). */
export const ALIGNMENT_LABEL: Record<Alignment, string> = {
  produced: 'token t ↔ row that chose it',
  input: 'token t ↔ next row (SAYO code)',
};

function headValue(h: HeadMode): string {
  return h.kind === 'head' ? `head-${h.head}` : h.kind;
}

function parseHead(v: string): HeadMode {
  return v.startsWith('head-') ? { kind: 'head', head: Number(v.slice(5)) } : { kind: v as 'mean' | 'max' };
}

/** The captured layers and head count of whatever panel is available. */
function useShape() {
  return useLens(
    useShallow((s) => {
      const step = s.runs.base.panel?.steps[0] ?? s.runs.trained.panel?.steps[0] ?? s.cross.base.panel?.steps[0];
      return { layers: step?.layers.join(',') ?? '', heads: step?.heads ?? 0 };
    }),
  );
}

/** The controls bar. */
export function ViewControls() {
  const view = useLens((s) => s.view);
  const compare = useLens((s) => s.compare);
  const hasCross = useLens((s) => !!(s.cross.base.panel || s.cross.trained.panel));
  const multiples = useLens((s) => s.multiples);
  const alignment = useLens((s) => s.alignment);
  const { setView, setCompare, setMultiples, setAlignment } = useLens.getState();
  const shape = useShape();
  const layers = shape.layers ? shape.layers.split(',').map(Number) : [];
  const tokenLabel =
    typeof view.token === 'number'
      ? `token ${view.token} of each answer`
      : view.token === 'all'
        ? 'all tokens'
        : 'top-30 % entropy';
  return (
    <div className="controls" role="group" aria-label="View">
      <span className="picked" data-testid="picked-token">
        Showing: {tokenLabel}
      </span>
      <label>
        Compare
        <select
          value={compare}
          onChange={(e) => setCompare(e.currentTarget.value as CompareMode)}
          data-testid="compare-mode"
        >
          <option value="own">each model's own answer</option>
          <option value="base-answer" disabled={!hasCross}>
            base's answer under both
          </option>
          <option value="trained-answer" disabled={!hasCross}>
            trained's answer under both
          </option>
        </select>
      </label>
      {/* Why two options are greyed out, beside the menu (inside it, the longer options would widen it past a phone). */}
      {hasCross ? null : (
        <span className="hint" data-testid="compare-hint">
          (answers under both models: Cross-score first)
        </span>
      )}
      <label>
        Layer
        <select
          value={view.layer}
          onChange={(e) => setView({ layer: Number(e.currentTarget.value) })}
          data-testid="layer-select"
        >
          <option value={LAST_LAYER}>last{layers.length ? ` (${layers[layers.length - 1]})` : ''}</option>
          {layers.map((l) => (
            <option key={l} value={l}>
              layer {l}
            </option>
          ))}
        </select>
      </label>
      <label>
        Reward rows
        <select
          value={alignment}
          onChange={(e) => setAlignment(e.currentTarget.value as Alignment)}
          data-testid="alignment-select"
        >
          {ALIGNMENTS.map((a) => (
            <option key={a} value={a}>
              {a}: {ALIGNMENT_LABEL[a]}
            </option>
          ))}
        </select>
      </label>
      <label>
        Heads
        <select
          value={headValue(view.head)}
          onChange={(e) => setView({ head: parseHead(e.currentTarget.value) })}
          data-testid="head-select"
        >
          <option value="mean">mean</option>
          <option value="max">max</option>
          {Array.from({ length: shape.heads }, (_, h) => (
            <option key={h} value={`head-${h}`}>
              head {h}
            </option>
          ))}
        </select>
      </label>
      <label>
        Scale
        <select
          value={view.norm}
          onChange={(e) => setView({ norm: e.currentTarget.value as NormMode })}
          data-testid="norm-select"
        >
          <option value="shared">÷ shared max</option>
          <option value="raw">raw probability</option>
          <option value="image">share of image</option>
        </select>
      </label>
      <label>
        Opacity
        <input
          type="range"
          min={0}
          max={1}
          step={0.05}
          value={view.opacity}
          onChange={(e) => setView({ opacity: Number(e.currentTarget.value) })}
          data-testid="opacity"
        />
      </label>
      <label>
        Tokens coloured by
        <select value={view.colorBy} onChange={(e) => setView({ colorBy: e.currentTarget.value as 'ra' | 'entropy' })}>
          <option value="ra">R_a</option>
          <option value="entropy">entropy</option>
        </select>
      </label>
      <label>
        <input type="checkbox" checked={multiples} onChange={(e) => setMultiples(e.currentTarget.checked)} /> per-head
        maps
      </label>
    </div>
  );
}
