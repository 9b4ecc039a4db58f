/**
 * Derivations over a real recorded panel (SAYO-mini in Node): the grid from the prompt, the layer default, maps for
 * tokens and aggregates, a head the panel lacks, and the token sets a view aggregates over.
 */
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { createNodeEngine } from '../engine/node.ts';
import { headMap, meanMaps } from '../core/aggregate.ts';
import { gridFor } from '../core/geometry.ts';
import type { SessionPanel } from '../session/types.ts';
import {
  hasAttention,
  panelCache,
  panelGrid,
  panelLayer,
  panelMap,
  panelReward,
  panelSelection,
  shownMap,
  targetsFor,
  viewTokens,
} from './derive.ts';
import { computeReward, selectTopEntropy } from '../core/reward.ts';
import { createCommands } from './effects.ts';
import { createLensStore } from './store.ts';
import { LAST_LAYER } from './slices/view.ts';
import { readPngSize } from '../../lab/testutils/record-session.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const SAMPLE = (
  JSON.parse(fs.readFileSync(path.join(ROOT, 'public/samples/samples.json'), 'utf8')) as {
    image: string;
    question: string;
  }[]
)[1];
let panel: SessionPanel;
let size: { width: number; height: number };

beforeAll(async () => {
  const store = createLensStore();
  const file = path.join(ROOT, 'public/samples', SAMPLE.image);
  size = readPngSize(fs.readFileSync(file));
  store.getState().setImage({
    name: SAMPLE.image,
    ...size,
    dataUrl: `data:image/png;base64,${fs.readFileSync(file).toString('base64')}`,
  });
  store.getState().setQuestion(SAMPLE.question);
  await createCommands(createNodeEngine(), store).run();
  panel = store.getState().runs.trained.panel!;
});

describe('derive on real output', () => {
  it('the grid of the prompt is the processor grid of the image', () => {
    const proc = JSON.parse(fs.readFileSync(path.join(ROOT, 'models/sayo-mini/preprocessor_config.json'), 'utf8'));
    const g = panelGrid(panel);
    const ref = gridFor(size, proc);
    expect([g.rows, g.cols, g.cell]).toEqual([ref.rows, ref.cols, ref.cell]);
    expect(g.image).toEqual(size);
    expect(hasAttention(panel)).toBe(true);
  });

  it('defaults to the last captured layer; maps match the core for tokens and aggregates', () => {
    const layers = panel.steps[0].layers;
    const last = panelLayer(panel, { layer: LAST_LAYER });
    expect(last).toBe(layers.at(-1));
    const s2 = panel.steps[2];
    expect(panelMap(panel, 2, last, { kind: 'max' }, null)).toEqual(
      headMap(s2.attention, s2.layers, s2.heads, s2.n, last, { kind: 'max' }),
    );
    const all = panel.steps.map((s) => headMap(s.attention, s.layers, s.heads, s.n, last, { kind: 'mean' }));
    expect(panelMap(panel, 'all', last, { kind: 'mean' }, null)).toEqual(meanMaps(all));
    expect(panelMap(panel, 'selected', last, { kind: 'mean' }, [0, 3])).toEqual(meanMaps(all, [0, 3]));
  });

  it('a head the panel lacks falls back to the head mean instead of failing', () => {
    const last = panel.steps[0].layers.at(-1)!;
    expect(panelMap(panel, 0, last, { kind: 'head', head: 99 }, null)).toEqual(
      panelMap(panel, 0, last, { kind: 'mean' }, null),
    );
  });

  it('view tokens: one (clamped), all, or the selection', () => {
    expect(viewTokens(99, 5, null)).toEqual([4]);
    expect(viewTokens('all', 3, [1])).toEqual([0, 1, 2]);
    expect(viewTokens('selected', 3, [1])).toEqual([1]);
    expect(viewTokens('selected', 3, [])).toEqual([0, 1, 2]);
  });

  it('the panel cache follows streamed steps and gives computeReward of the raw rows under both alignments', () => {
    const last = panel.steps[0].layers.at(-1)!;
    const li = panel.steps[0].layers.indexOf(last);
    const { heads, n } = panel.steps[0];
    const targets = targetsFor([[0, 0, size.width / 2, size.height / 2]], panelGrid(panel)).targets!;
    // Streaming: a prefix, then the whole answer, reuse one cache; a shorter answer (e.g. cut at Stop) rebuilds it.
    const prefix = { ...panel, steps: panel.steps.slice(0, 2) };
    const cache = panelCache(prefix.steps)!;
    expect(cache.size).toBe(2);
    expect(panelCache(panel.steps)).toBe(cache);
    expect(cache.size).toBe(panel.steps.length);
    expect(panelCache(prefix.steps)).not.toBe(cache);
    for (const alignment of ['produced', 'input'] as const) {
      const raw = computeReward({
        tokens: panel.steps.map((s) => s.attention.subarray(li * heads * n, (li + 1) * heads * n)),
        heads,
        n,
        targets,
        entropy: panel.steps.map((s) => s.entropy),
        alignment,
      });
      const got = panelReward(panel, last, targets, alignment)!;
      expect(got.selected).toEqual(raw.selected);
      expect(panelSelection(panel, alignment)).toEqual(raw.selected);
      expect(got.r_v).toBeCloseTo(raw.r_v, 10);
      got.perToken.forEach((p, i) => expect(p.R_a).toBeCloseTo(raw.perToken[i].R_a, 10));
    }
    expect(panelSelection(panel, 'input')).toEqual(selectTopEntropy(panel.steps.slice(0, -1).map((s) => s.entropy)));
  });

  it('shownMap keeps the map while the panel, token, layer, head and selection stay the same', () => {
    const last = panel.steps[0].layers.at(-1)!;
    const a = shownMap(panel, 'all', last, { kind: 'mean' }, [0]);
    expect(a).toEqual(panelMap(panel, 'all', last, { kind: 'mean' }, [0]));
    expect(shownMap(panel, 'all', last, { kind: 'mean' }, [0])).toBe(a);
    const b = shownMap(panel, 1, last, { kind: 'mean' }, [0]);
    expect(b).not.toBe(a);
    expect(b).toEqual(panelMap(panel, 1, last, { kind: 'mean' }, [0]));
  });
});
