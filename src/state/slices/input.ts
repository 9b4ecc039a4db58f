/**
 * @file Input slice: the image, the question and the key regions (boxes in original-image pixels, shared by both
 * panels). Box edits are pure functions so the region editor and its tests share one implementation.
 */
import type { StateCreator } from 'zustand';
import type { LensState } from '../store';
import type { Box } from '../../core/geometry';

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
  boxes: Box[];
  /** Index of the box the editor has selected (keyboard moves / deletes it). */
  selectedBox: number | null;
  /** A new image: its regions and any answers made for the previous image are cleared. */
  setImage(image: LoadedImage, notice?: string | null): void;
  setQuestion(question: string): void;
  setBoxes(boxes: Box[]): void;
  addBox(box: Box): void;
  updateBox(index: number, box: Box): void;
  deleteBox(index: number): void;
  selectBox(index: number | null): void;
}

/** Normalises a box so x1 ≤ x2 and y1 ≤ y2 and clamps it into the image. */
export function normalizeBox(box: Box, image: { width: number; height: number }): Box {
  const [a, b, c, d] = box;
  const clamp = (v: number, hi: number) => Math.min(hi, Math.max(0, v));
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
  const x1 = Math.min(image.width - w, Math.max(0, box[0] + dx));
  const y1 = Math.min(image.height - h, Math.max(0, box[1] + dy));
  return [x1, y1, x1 + w, y1 + h];
}

/** Grows or shrinks a box from its bottom-right corner by (dw, dh), at least 1 px and inside the image. */
export function resizeBox(box: Box, dw: number, dh: number, image: { width: number; height: number }): Box {
  const x2 = Math.min(image.width, Math.max(box[0] + 1, box[2] + dw));
  const y2 = Math.min(image.height, Math.max(box[1] + 1, box[3] + dh));
  return [box[0], box[1], x2, y2];
}

export const createInputSlice: StateCreator<LensState, [], [], InputSlice> = (set) => ({
  image: null,
  imageNotice: null,
  question: '',
  boxes: [],
  selectedBox: null,
  // Answers belong to the image they were made for: a new image clears them (a session import sets its own after).
  setImage: (image, notice = null) =>
    set({
      image,
      imageNotice: notice,
      boxes: [],
      selectedBox: null,
      runs: { base: { status: 'idle', panel: null }, trained: { status: 'idle', panel: null } },
      cross: { base: { status: 'idle', panel: null }, trained: { status: 'idle', panel: null } },
      compare: 'own',
    }),
  setQuestion: (question) => set({ question }),
  setBoxes: (boxes) => set({ boxes, selectedBox: null }),
  addBox: (box) => set((s) => ({ boxes: [...s.boxes, box], selectedBox: s.boxes.length })),
  updateBox: (index, box) => set((s) => ({ boxes: s.boxes.map((b, i) => (i === index ? box : b)) })),
  deleteBox: (index) =>
    set((s) => ({ boxes: s.boxes.filter((_, i) => i !== index), selectedBox: null })),
  selectBox: (index) => set({ selectedBox: index }),
});
