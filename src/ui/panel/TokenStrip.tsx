/**
 * @file The token strip under an answer: each token coloured by its R_a (or its entropy) on a range shared with the
 * other answer's strip, the tokens r_v counts marked; click / hover / arrow keys pick a token (the arrows walk this
 * answer to its own end, from the picked token); "all" and "top-30 % entropy" pick the aggregates. Token text is
 * rendered as React text (never HTML).
 */
import { memo, useMemo, type KeyboardEvent } from 'react';
import type { RewardResult } from '../../core/reward.ts';
import { stepToken } from '../../state/slices/view.ts';
import { useLens } from '../../state/store.ts';
import type { SessionPanel, Side } from '../../session/types.ts';
import { colorFor, sharedScale, type ColorScale } from '../charts/scale.ts';
import { raScale } from '../raScale.ts';
import { panelToken } from './pickedToken.ts';

/** The token strips' colour scales, computed over both shown answers. */
export interface StripScales {
  ra: ColorScale | null;
  entropy: ColorScale | null;
}

/** One R_a scale and one entropy scale over every given answer (null for a kind no answer has). */
export function stripScales(answers: readonly { panel: SessionPanel; reward: RewardResult | null }[]): StripScales {
  const ra = answers.filter((a) => a.reward).map((a) => Float32Array.from(a.reward!.perToken, (t) => t.R_a));
  const entropy = answers
    .filter((a) => a.panel.steps.length)
    .map((a) => Float32Array.from(a.panel.steps, (s) => s.entropy));
  return {
    ra: ra.length ? raScale(ra) : null,
    entropy: entropy.length ? sharedScale(entropy, 'raw', 'viridis') : null,
  };
}

/** WCAG relative luminance of an sRGB colour (0…255 channels). */
function luminance(rgb: [number, number, number]): number {
  const [r, g, b] = rgb.map((v) => {
    const c = v / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

/** Black or white text, whichever contrasts more with the background (always ≥ 4.58:1, WCAG AA). */
export function inkFor(rgb: [number, number, number]): string {
  const l = luminance(rgb);
  return (l + 0.05) / 0.05 >= 1.05 / (l + 0.05) ? '#000' : '#fff';
}

/** One token of the strip, re-rendered only when its colour (a new tuple per new reward), text, tooltip or marks
 * change: scrubbing moves the pick, which re-renders two tokens, not the whole strip. */
const Token = memo(function Token({
  side,
  index,
  text,
  rgb,
  title,
  picked,
  counts,
}: {
  side: Side;
  index: number;
  text: string;
  rgb: [number, number, number];
  title: string;
  picked: boolean;
  counts: boolean;
}) {
  const { setView, setHover } = useLens.getState();
  return (
    <span
      id={`tok-${side}-${index}`}
      role="option"
      aria-selected={picked}
      data-testid={`token-${side}-${index}`}
      className={`tok${picked ? ' picked' : ''}${counts ? ' counts' : ''}`}
      style={{ background: `rgb(${rgb.join(',')})`, color: inkFor(rgb) }}
      title={title}
      onClick={() => setView({ token: index })}
      onMouseEnter={() => setHover(index)}
    >
      {text}
    </span>
  );
});

/** The strip of one side. */
export function TokenStrip({
  side,
  panel,
  reward,
  selected,
  picked,
  scales,
}: {
  side: Side;
  panel: SessionPanel;
  reward: RewardResult | null;
  selected: number[];
  /** This panel's own picked token (the shared pick clamped to this answer's length). */
  picked: number | 'all' | 'selected' | null;
  /** The colour scales both strips share (so one colour is one R_a, one entropy, in either panel). */
  scales?: StripScales | null;
}) {
  const token = picked ?? 'all';
  const colorBy = useLens((s) => s.view.colorBy);
  const { setView, setHover } = useLens.getState();
  const steps = panel.steps;
  const colours = useMemo(() => {
    const byRa = colorBy === 'ra' && reward;
    const vals = Float32Array.from(steps, (s, i) => (byRa ? (reward.perToken[i]?.R_a ?? 0) : s.entropy));
    const scale =
      (byRa ? scales?.ra : scales?.entropy) ?? (byRa ? raScale([vals]) : sharedScale([vals], 'raw', 'viridis'));
    return { scale, rgb: Array.from(vals, (v) => colorFor(v, scale)) };
  }, [steps, reward, colorBy, scales]);
  const counted = useMemo(() => new Set(selected), [selected]);
  // The keys step from the picked token (clamped to this answer), never from the one under the pointer: the
  // hover preview ends, so the strip, the heatmap and the header all show the token the keys reached.
  const asked = useLens((s) => s.view.token);
  const from = panelToken(asked, steps.length) ?? 'all';
  const onKey = (e: KeyboardEvent) => {
    const d = e.key === 'ArrowRight' ? 1 : e.key === 'ArrowLeft' ? -1 : 0;
    if (d || e.key === 'Home' || e.key === 'End') setHover(null);
    if (d) setView({ token: stepToken(from, d, steps.length) });
    else if (e.key === 'Home') setView({ token: 0 });
    else if (e.key === 'End') setView({ token: steps.length - 1 });
    else return;
    e.preventDefault();
  };
  const [lo, hi] = colours.scale.domain;
  const what =
    colorBy === 'ra' && reward
      ? `R_a (blue ${lo.toFixed(3)} … red ${hi.toFixed(3)})`
      : `entropy (0 … ${hi.toFixed(2)} nats)`;
  return (
    <div className="token-strip">
      <div className="aggregates" role="group" aria-label={`${side} aggregates`}>
        <button type="button" aria-pressed={token === 'all'} onClick={() => setView({ token: 'all' })}>
          All tokens
        </button>
        <button type="button" aria-pressed={token === 'selected'} onClick={() => setView({ token: 'selected' })}>
          Top-30 % entropy
        </button>
        <span className="hint">
          coloured by <span data-testid={`strip-scale-${side}`}>{what}</span>
          {scales ? ' (one range for both answers)' : ''}; <span className="rv-dot">●</span> = counts for r_v
        </span>
      </div>
      <div
        className="tokens"
        role="listbox"
        tabIndex={0}
        aria-label={`${side} answer tokens (arrow keys pick)`}
        aria-activedescendant={typeof token === 'number' ? `tok-${side}-${token}` : undefined}
        onKeyDown={onKey}
        onMouseLeave={() => setHover(null)}
      >
        {steps.map((s, i) => (
          <Token
            key={i}
            side={side}
            index={i}
            text={s.text}
            rgb={colours.rgb[i]}
            title={`#${i} entropy ${s.entropy.toFixed(3)}${reward ? (reward.perToken[i] ? `, R_a ${reward.perToken[i].R_a.toFixed(3)}` : ', not scored under the input alignment') : ''}`}
            picked={token === i}
            counts={counted.has(i)}
          />
        ))}
      </div>
    </div>
  );
}
