/**
 * @file Image input → transformers.js RawImage, the same on every platform: RawImage.fromBlob decodes with
 * createImageBitmap in the browser and with sharp in Node. Anything unreadable is a `bad_image` EngineError.
 */
import { RawImage } from '@huggingface/transformers';
import { EngineError, type ImageInput } from './types.ts';

/** Decodes an encoded image or wraps raw RGBA, as RGB. */
export async function decodeImage(input: ImageInput): Promise<RawImage> {
  if (input?.kind === 'rgba') {
    const { width, height, data } = input;
    if (!(width > 0 && height > 0) || data?.length !== width * height * 4) {
      throw new EngineError(
        'bad_image',
        `Raw RGBA image: expected ${width}×${height}×4 bytes, got ${data?.length ?? 0}.`,
      );
    }
    return new RawImage(new Uint8ClampedArray(data), width, height, 4).rgb();
  }
  if (input?.kind !== 'encoded' || !(input.bytes instanceof Uint8Array) || input.bytes.length === 0) {
    throw new EngineError('bad_image', 'No image data was given.');
  }
  try {
    return (
      await RawImage.fromBlob(new Blob([input.bytes as Uint8Array<ArrayBuffer>], { type: input.mime ?? '' }))
    ).rgb();
  } catch (e) {
    throw new EngineError('bad_image', `The image could not be decoded (${(e as Error)?.message ?? e}).`);
  }
}
