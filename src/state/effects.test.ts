/**
 * Commands over the REAL engine in Node (SAYO-mini pair on onnxruntime-node): both answers stream into the store,
 * Stop keeps the partial answer, cross-scoring teacher-forces the other model's tokens, bad input and a model that
 * fails to load give messages without losing what is on screen, and the reward recomputes from the stored steps.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createNodeEngine } from '../engine/node.ts';
import { createCommands, dataUrlToImage } from './effects.ts';
import { createLensStore } from './store.ts';
import { panelGrid, panelReward, targetsFor } from './derive.ts';
import { readPngSize } from '../../lab/testutils/record-session.ts';
import type { Box } from '../core/geometry.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const SAMPLES = JSON.parse(fs.readFileSync(path.join(ROOT, 'public/samples/samples.json'), 'utf8')) as {
  id: string;
  image: string;
  question: string;
  boxes: Box[];
}[];
const S = SAMPLES[0];
const DATA_URL = `data:image/png;base64,${fs.readFileSync(path.join(ROOT, 'public/samples', S.image)).toString('base64')}`;

const engine = createNodeEngine();

function freshStore() {
  const store = createLensStore();
  store.getState().setImage({
    name: S.image,
    ...readPngSize(fs.readFileSync(path.join(ROOT, 'public/samples', S.image))),
    dataUrl: DATA_URL,
  });
  store.getState().setQuestion(S.question);
  store.getState().setBoxes(S.boxes);
  return store;
}

describe('commands on the real engine', () => {
  it('decodes a data URL to the exact file bytes', () => {
    const img = dataUrlToImage(DATA_URL);
    expect(img.kind).toBe('encoded');
    if (img.kind === 'encoded')
      expect(Buffer.from(img.bytes).equals(fs.readFileSync(path.join(ROOT, 'public/samples', S.image)))).toBe(true);
  });

  it('runs both models, streaming steps into both panels, and scores the stored steps', async () => {
    const store = freshStore();
    const cmds = createCommands(engine, store);
    const seen: number[] = [];
    const unsub = store.subscribe((s) => seen.push(s.runs.base.panel?.steps.length ?? 0));
    await cmds.run();
    unsub();
    const { runs, status } = store.getState();
    expect(status.base.state).toBe('ready');
    expect(status.base.info?.backend).toBe('cpu');
    for (const side of ['base', 'trained'] as const) {
      const p = runs[side].panel!;
      expect(runs[side].status).toBe('done');
      expect(p.steps.length).toBeGreaterThan(1);
      expect(p.summary?.tokens).toBe(p.steps.length);
      expect(p.modelName).toMatch(/SAYO-mini/);
      expect(p.steps[0].attention.length).toBe(p.steps[0].layers.length * p.steps[0].heads * p.steps[0].n);
    }
    // Streaming: the store saw the base panel grow one step at a time.
    expect(new Set(seen).size).toBeGreaterThan(2);
    const p = runs.trained.panel!;
    const t = targetsFor(S.boxes, panelGrid(p));
    const r = panelReward(p, p.steps[0].layers.at(-1)!, t.targets)!;
    expect(r.r_v).toBeGreaterThan(-1);
    expect(r.r_v).toBeLessThan(1);
    expect(r.perToken).toHaveLength(p.steps.length);
  });

  it('Stop keeps the tokens already streamed and marks the panels stopped', async () => {
    const store = freshStore();
    const cmds = createCommands(engine, store);
    const unsub = store.subscribe((s) => {
      if ((s.runs.base.panel?.steps.length ?? 0) >= 2) cmds.stop();
    });
    await cmds.run();
    unsub();
    const base = store.getState().runs.base;
    expect(base.status).toBe('stopped');
    expect(base.panel!.steps.length).toBeGreaterThanOrEqual(2);
  });

  it('Stop right after Run: both panels stopped, no error, and the next run answers', async () => {
    const store = freshStore();
    const cmds = createCommands(engine, store);
    const run = cmds.run();
    setTimeout(() => cmds.stop(), 0);
    await run;
    const s = store.getState();
    expect([s.runs.base.status, s.runs.trained.status]).toEqual(['stopped', 'stopped']);
    expect(s.errors).toEqual([]);
    await cmds.run();
    expect(store.getState().runs.trained.status).toBe('done');
  });

  it('cross-scores: each answer teacher-forced through the other model has identical tokens', async () => {
    const store = freshStore();
    const cmds = createCommands(engine, store);
    await cmds.run();
    await cmds.crossScore();
    const s = store.getState();
    const ids = (p: typeof s.runs.base.panel) => p!.steps.map((t) => t.tokenId);
    expect(s.cross.trained.panel!.source).toBe('score');
    expect(ids(s.cross.trained.panel)).toEqual(ids(s.runs.base.panel));
    expect(ids(s.cross.base.panel)).toEqual(ids(s.runs.trained.panel));
    expect(s.compare).toBe('base-answer');
  });

  it('empty question: a message, and nothing on screen is lost', async () => {
    const store = freshStore();
    store.getState().setQuestion('   ');
    await createCommands(engine, store).run();
    const s = store.getState();
    expect(s.errors.map((e) => e.scope)).toEqual(['question']);
    expect(s.image?.name).toBe(S.image);
    expect(s.boxes).toEqual(S.boxes);
    expect(s.runs.base.status).toBe('idle');
  });

  it('a model that fails to load: its side reports it, the other side still answers', async () => {
    const store = freshStore();
    store.getState().setPairModel('base', 'no-such-model');
    await createCommands(engine, store).run();
    const s = store.getState();
    expect(s.status.base.state).toBe('error');
    expect(s.errors.find((e) => e.scope === 'model-base')?.message).toMatch(/no-such-model/);
    expect(s.runs.base.status).toBe('error');
    expect(s.runs.trained.status).toBe('done');
    expect(s.runs.trained.panel!.steps.length).toBeGreaterThan(0);
  });

  it('reports words the vocabulary lacks and still answers', async () => {
    const store = freshStore();
    store.getState().setQuestion('What shape is the blue zorblax?');
    await createCommands(engine, store).run();
    const p = store.getState().runs.trained.panel!;
    expect(p.prompt.unknownWords).toContain('zorblax');
    expect(p.steps.length).toBeGreaterThan(0);
  });
});
