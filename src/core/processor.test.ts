/**
 * @file gridFor against the real transformers.js Qwen2VLImageProcessor: for many image sizes (odd aspect ratios, tiny,
 * huge) the processor is run on a RawImage of that size and its image_grid_thw / resized size must equal gridFor's.
 */
import { Qwen2VLImageProcessor, RawImage } from '@huggingface/transformers';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GeometryError, type ProcessorGeometry, gridFor, gridFromThw } from './geometry.ts';

interface Variant extends ProcessorGeometry {
  name: string;
  temporal_patch_size: number;
}

const VARIANTS: Variant[] = [
  {
    name: 'SAYO-mini / Qwen2-VL small',
    patch_size: 14,
    merge_size: 2,
    temporal_patch_size: 2,
    min_pixels: 3136,
    max_pixels: 200704,
  },
  {
    name: 'Qwen2.5-VL default',
    patch_size: 14,
    merge_size: 2,
    temporal_patch_size: 2,
    min_pixels: 3136,
    max_pixels: 1003520,
  },
  { name: 'Qwen3-VL', patch_size: 16, merge_size: 2, temporal_patch_size: 2, min_pixels: 65536, max_pixels: 1048576 },
];

function processorFor(v: Variant): Qwen2VLImageProcessor {
  return new Qwen2VLImageProcessor({
    do_resize: true,
    do_rescale: true,
    do_normalize: true,
    image_mean: [0.5, 0.5, 0.5],
    image_std: [0.5, 0.5, 0.5],
    patch_size: v.patch_size,
    merge_size: v.merge_size,
    temporal_patch_size: v.temporal_patch_size,
    min_pixels: v.min_pixels,
    max_pixels: v.max_pixels,
  } as ConstructorParameters<typeof Qwen2VLImageProcessor>[0]);
}

type Outcome = { thw: number[]; resized: { width: number; height: number } } | { error: string };

/** Runs the real processor on a blank RGB image of this size. */
async function runProcessor(proc: Qwen2VLImageProcessor, width: number, height: number): Promise<Outcome> {
  const image = new RawImage(new Uint8ClampedArray(width * height * 3), width, height, 3);
  try {
    const out = (await proc._call(image)) as unknown as {
      image_grid_thw: { tolist(): bigint[][] };
      reshaped_input_sizes: [number, number][];
    };
    const [h, w] = out.reshaped_input_sizes[0];
    return { thw: out.image_grid_thw.tolist()[0].map(Number), resized: { width: w, height: h } };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

/** Compares one size; returns whether the processor rejected it. */
async function expectAgreement(
  v: Variant,
  proc: Qwen2VLImageProcessor,
  width: number,
  height: number,
): Promise<boolean> {
  const real = await runProcessor(proc, width, height);
  const label = `${v.name} ${width}×${height}`;
  if ('error' in real) {
    expect(() => gridFor({ width, height }, v), `${label}: processor threw "${real.error}"`).toThrow(GeometryError);
    return true;
  }
  const g = gridFor({ width, height }, v);
  expect(g.resized, label).toEqual(real.resized);
  expect([1, g.rows * v.merge_size, g.cols * v.merge_size], label).toEqual(real.thw);
  expect(gridFromThw({ width, height }, real.thw, v), label).toEqual(g);
  return false;
}

const FIXED_SIZES: [number, number][] = [
  [640, 480],
  [480, 640],
  [1, 1],
  [1, 28],
  [27, 27],
  [28, 28],
  [29, 29],
  [13, 900],
  [900, 13],
  [56, 56],
  [70, 70],
  [42, 98],
  [99, 101],
  [333, 517],
  [1000, 1],
  [5, 1000],
  [28, 5600],
  [28, 5601],
  [5600, 28],
  [3, 599],
  [1, 201],
  [201, 1],
  [1920, 1080],
  [1080, 1920],
  [2752, 1824],
  [4032, 3024],
  [6000, 4000],
  [7, 3],
  [14, 14],
  [100, 20000],
];

describe('gridFor agrees with transformers.js Qwen2VLImageProcessor', () => {
  for (const v of VARIANTS) {
    it(`${v.name}: fixed sizes incl. tiny, huge, extreme aspect ratios`, async () => {
      const proc = processorFor(v);
      let rejected = 0;
      for (const [w, h] of FIXED_SIZES) if (await expectAgreement(v, proc, w, h)) rejected++;
      // Both outcomes are exercised: 28×5601, 1000×1, 1×201, 201×1 exceed aspect 200; the rest resize.
      expect(rejected).toBeGreaterThanOrEqual(4);
      expect(rejected).toBeLessThan(FIXED_SIZES.length - 20);
    }, 300_000);
  }

  it('random sizes (fast-check), every variant', async () => {
    const procs = VARIANTS.map(processorFor);
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 2000 }),
        fc.integer({ min: 1, max: 2000 }),
        fc.integer({ min: 0, max: VARIANTS.length - 1 }),
        async (w, h, i) => {
          await expectAgreement(VARIANTS[i], procs[i], w, h);
        },
      ),
      { numRuns: 40 },
    );
  }, 300_000); // each run resizes a real image: slow when the shared cores are busy
});
