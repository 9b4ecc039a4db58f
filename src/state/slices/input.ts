/**
 * @file Input slice: the image, the question and the key regions (boxes in whole original-image pixels, shared by
 * both panels). Box edits are pure functions so the region editor and its tests share one implementation. Drawing a
 * box replaces the regions or adds one, as `drawMode` says (shown next to the region list).
 */
import type { StateCreator } from 'zustand';
import type { LensState } from '../store.ts';
import type { Box } from '../../core/geometry.ts';

/** A decoded image as the app keeps it (the same shape a session file stores). */
export interface LoadedImage {
  name: string;
  width: number;
  height: number;
  /** PNG/JPEG data URL; the bytes sent to the engine. */
  dataUrl: string;
}

export interface InputSlice {
  image: LoadedImage | null;
  /** Shown under the image, e.g. when a huge image was downscaled. */
  imageNotice: string | null;
  question: string;
  /** The question is a sample's, untouched: it leaves with the sample's image (it does not fit the user's own). */
  questionFromSample: boolean;
  boxes: Box[];
  /** Index of the box the editor has selected (keyboard moves / deletes it). */
  selectedBox: number | null;
  /** What a newly drawn box does: replace every region, or add to them. */
  drawMode: 'replace' | 'add';
  /** File names of the bundled samples (an image of another name is the user's own). */
  sampleNames: string[];
  setDrawMode(mode: 'replace' | 'add'): void;
  setSampleNames(names: string[]): void;
  /** A box drawn with the mouse: replaces the regions or is added, as `drawMode` says; it is selected. */
  drawBox(box: Box): void;
  clearBoxes(): void;
  /** A new image: its regions, any answers made for the previous image and a sample's question are cleared. */
  setImage(image: LoadedImage, notice?: string | null): void;
  /** Sets the question; `fromSample` marks a sample's own question (cleared with the sample's image). */
  setQuestion(question: string, fromSample?: boolean): void;
  setBoxes(boxes: Box[]): void;
  addBox(box: Box): void;
  updateBox(index: number, box: Box): void;
  deleteBox(index: number): void;
  selectBox(index: number | null): void;
}

/** Normalises a box so x1 ≤ x2 and y1 ≤ y2 and clamps it into the image. */
export function normalizeBox(box: Box, image: { width: number; height: number }): Box {
  const [a, b, c, d] = box;
  const clamp = (v: number, hi: number) => Math.min(hi, Math.max(0, Math.round(v)));
  return [
    clamp(Math.min(a, c), image.width),
    clamp(Math.min(b, d), image.height),
    clamp(Math.max(a, c), image.width),
    clamp(Math.max(b, d), image.height),
  ];
}

/** Moves a box by (dx, dy), keeping its size and keeping it inside the image. */
export function moveBox(box: Box, dx: number, dy: number, image: { width: number; height: number }): Box {
  const w = box[2] - box[0];
  const h = box[3] - box[1];
  const x1 = Math.min(image.width - w, Math.max(0, Math.round(box[0] + dx)));
  const y1 = Math.min(image.height - h, Math.max(0, Math.round(box[1] + dy)));
  return [x1, y1, x1 + w, y1 + h];
}

/** Grows or shrinks a box from its bottom-right corner by (dw, dh), at least 1 px and inside the image. */
export function resizeBox(box: Box, dw: number, dh: number, image: { width: number; height: number }): Box {
  const x2 = Math.min(image.width, Math.max(box[0] + 1, Math.round(box[2] + dw)));
  const y2 = Math.min(image.height, Math.max(box[1] + 1, Math.round(box[3] + dh)));
  return [box[0], box[1], x2, y2];
}

export const createInputSlice: StateCreator<LensState, [], [], InputSlice> = (set) => ({
  image: null,
  imageNotice: null,
  question: '',
  questionFromSample: false,
  boxes: [],
  selectedBox: null,
  drawMode: 'replace',
  sampleNames: [],
  setDrawMode: (drawMode) => set({ drawMode }),
  setSampleNames: (sampleNames) => set({ sampleNames }),
  drawBox: (box) =>
    set((s) =>
      s.drawMode === 'replace'
        ? { boxes: [box], selectedBox: 0 }
        : { boxes: [...s.boxes, box], selectedBox: s.boxes.length },
    ),
  clearBoxes: () => set({ boxes: [], selectedBox: null }),
  // Answers belong to the image they were made for: a new image clears them (a session import sets its own after).
  // So does a sample's question ("…below the orange triangle?" means nothing on a photo); a typed one stays.
  setImage: (image, notice = null) =>
    set((s) => ({
      ...(s.questionFromSample ? { question: '', questionFromSample: false } : {}),
      image,
      imageNotice: notice,
      boxes: [],
      selectedBox: null,
      runs: { base: { status: 'idle', panel: null }, trained: { status: 'idle', panel: null } },
      cross: { base: { status: 'idle', panel: null }, trained: { status: 'idle', panel: null } },
      compare: 'own' as const,
    })),
  setQuestion: (question, fromSample = false) => set({ question, questionFromSample: fromSample }),
  setBoxes: (boxes) => set({ boxes, selectedBox: null }),
  addBox: (box) => set((s) => ({ boxes: [...s.boxes, box], selectedBox: s.boxes.length })),
  updateBox: (index, box) => set((s) => ({ boxes: s.boxes.map((b, i) => (i === index ? box : b)) })),
  deleteBox: (index) => set((s) => ({ boxes: s.boxes.filter((_, i) => i !== index), selectedBox: null })),
  selectBox: (index) => set({ selectedBox: index }),
});
