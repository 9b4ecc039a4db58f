/**
 * @file Turns a user's file (picker, drop, paste) or a sample URL into a LoadedImage, with a clear message for
 * every way it can be unusable: not an image, corrupt, a side under one visual-token cell, an aspect ratio above
 * 200. Very large images (above {@link DOWNSCALE_PIXELS}) are downscaled to the processor's resized size, with a
 * notice; nothing is silently changed.
 */
import { MAX_ASPECT_RATIO, smartResize, type ProcessorGeometry } from '../../core/geometry.ts';
import type { LoadedImage } from '../../state/slices/input.ts';

/** Qwen2-VL's processor geometry, used until a model reports its own. */
export const DEFAULT_PROCESSOR: ProcessorGeometry = {
  patch_size: 14,
  merge_size: 2,
  min_pixels: 3136,
  max_pixels: 12845056,
};

/** Images with more pixels than this are downscaled in the page (the processor would shrink them anyway). */
export const DOWNSCALE_PIXELS = 16_000_000;

/** An image that cannot be used; the message is shown as is. */
export class ImageInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ImageInputError';
  }
}

/**
 * Checks an image size against the processor: each side ≥ one cell, aspect ratio ≤ 200.
 * @returns null when usable, else the message to show
 */
export function sizeProblem(width: number, height: number, proc: ProcessorGeometry): string | null {
  const cell = proc.patch_size * proc.merge_size;
  if (width < cell || height < cell) {
    return `The image is ${width}×${height} px; each side must be at least ${cell} px (one visual-token cell).`;
  }
  const ratio = Math.max(width, height) / Math.min(width, height);
  if (ratio > MAX_ASPECT_RATIO) {
    return `The image's aspect ratio is ${ratio.toFixed(0)}:1 (${width}×${height} px); the model accepts at most ${MAX_ASPECT_RATIO}:1.`;
  }
  return null;
}

/** The size a huge image is downscaled to (the processor's own resized size), or null when it is kept as is. */
export function downscaleTarget(
  width: number,
  height: number,
  proc: ProcessorGeometry,
): { width: number; height: number } | null {
  if (width * height <= DOWNSCALE_PIXELS) return null;
  const r = smartResize(height, width, proc.patch_size * proc.merge_size, proc.min_pixels, proc.max_pixels);
  return { width: r.width, height: r.height };
}

function readDataUrl(blob: Blob): Promise<string> {
  return new Promise((resolve, reject) => {
    const fr = new FileReader();
    fr.onload = () => resolve(String(fr.result));
    fr.onerror = () => reject(fr.error);
    fr.readAsDataURL(blob);
  });
}

function canvasDataUrl(bitmap: ImageBitmap, width: number, height: number): string {
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new ImageInputError('This browser cannot draw images (no 2D canvas).');
  ctx.imageSmoothingQuality = 'high';
  ctx.drawImage(bitmap, 0, 0, width, height);
  return canvas.toDataURL('image/png');
}

/**
 * Decodes and checks an image file.
 * @throws ImageInputError with the message to show
 */
export async function loadImageFile(
  file: Blob,
  name: string,
  proc: ProcessorGeometry = DEFAULT_PROCESSOR,
): Promise<{ image: LoadedImage; notice: string | null }> {
  if (file.type && !file.type.startsWith('image/')) {
    throw new ImageInputError(`“${name}” is not an image (type ${file.type}). Pick a PNG, JPEG, WebP or GIF file.`);
  }
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch {
    throw new ImageInputError(`“${name}” could not be decoded: the file is corrupt or not a supported image format.`);
  }
  try {
    const { width, height } = bitmap;
    const problem = sizeProblem(width, height, proc);
    if (problem) throw new ImageInputError(problem);
    const target = downscaleTarget(width, height, proc);
    if (target) {
      const mp = ((width * height) / 1e6).toFixed(1);
      return {
        image: { name, ...target, dataUrl: canvasDataUrl(bitmap, target.width, target.height) },
        notice: `“${name}” is ${width}×${height} px (${mp} MP): downscaled to ${target.width}×${target.height} px, the size the model's processor uses (max_pixels ${proc.max_pixels}). Regions are drawn on the downscaled image.`,
      };
    }
    const keep = /^image\/(png|jpeg|webp)$/.test(file.type);
    const dataUrl = keep ? await readDataUrl(file) : canvasDataUrl(bitmap, width, height);
    return { image: { name, width, height, dataUrl }, notice: null };
  } finally {
    bitmap.close();
  }
}
