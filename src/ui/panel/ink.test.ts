/**
 * Token text colour: black or white, whichever reads better, meets WCAG AA (≥ 4.5:1) on every background colour.
 */
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { inkFor } from './TokenStrip.tsx';

const lum = (rgb: number[]) => {
  const [r, g, b] = rgb.map((v) => (v / 255 <= 0.03928 ? v / 255 / 12.92 : ((v / 255 + 0.055) / 1.055) ** 2.4));
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
};

it('every background gets text with contrast ≥ 4.5:1', () => {
  const byte = fc.integer({ min: 0, max: 255 });
  fc.assert(
    fc.property(byte, byte, byte, (r, g, b) => {
      const bg = lum([r, g, b]);
      const ink = inkFor([r, g, b]) === '#000' ? 0 : 1;
      const [hi, lo] = [Math.max(bg, ink), Math.min(bg, ink)];
      expect((hi + 0.05) / (lo + 0.05)).toBeGreaterThanOrEqual(4.5);
    }),
    { numRuns: 2000 },
  );
});
