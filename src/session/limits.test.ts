/**
 * @file Session import against the limits of core/limits.ts and against itself: the crafted files that froze a tab
 * (heads 100 000 or 1e6 with empty data, 100 000 boxes) are refused at once with a message naming the field and what
 * is accepted; an image whose size differs from the declared one, an undecodable image and view values that point
 * nowhere are refused; a UTF-8 BOM is accepted.
 */
import { describe, expect, it } from 'vitest';
import { SESSION_LIMITS } from '../core/limits.ts';
import { makeSession } from '../../lab/testutils/session.ts';
import { dataUrlImageHeader, readImageHeader, solidBmpDataUrl } from './image-header.ts';
import { SessionError, parseSession, serializeSession } from './serialize.ts';

/** Session JSON after `edit` of the raw file object. */
function edited(edit: (raw: any) => void): string {
  const raw = JSON.parse(serializeSession(makeSession()));
  edit(raw);
  return JSON.stringify(raw);
}

/** Parses and returns the SessionError with the time taken. */
function refuse(text: string): { e: SessionError; ms: number } {
  const t0 = performance.now();
  try {
    parseSession(text);
  } catch (e) {
    if (!(e instanceof SessionError)) throw e;
    return { e, ms: performance.now() - t0 };
  }
  throw new Error('accepted');
}

const emptySteps = (heads: number) => (r: any) => {
  for (const p of r.panels)
    for (const st of p.steps) Object.assign(st, { heads, attention: '', imageShare: '', rowSum: '' });
};

describe('session limits', () => {
  const cases: [string, (r: any) => void, string, RegExp][] = [
    [
      'heads 100 000 with empty data',
      emptySteps(100_000),
      'panels[0].steps[0].heads',
      /100000 is above the maximum 256/,
    ],
    ['heads 1e6 with empty data', emptySteps(1e6), 'panels[0].steps[0].heads', /above the maximum 256/],
    [
      '100 000 boxes',
      (r) => (r.boxes = Array.from({ length: 100_000 }, () => [1, 2, 3, 4])),
      'boxes',
      /100000 regions is too many \(accepted: at most 256\)/,
    ],
    [
      '100 000 steps',
      (r) => (r.panels[0].steps = Array.from({ length: 100_000 }, () => ({}))),
      'panels[0].steps',
      /too many \(accepted: at most 4096\)/,
    ],
    [
      '1000 layers',
      (r) => (r.panels[0].steps[0].layers = Array.from({ length: 1000 }, (_, i) => i)),
      'panels[0].steps[0].layers',
      /at most 256/,
    ],
    [
      'a huge grid',
      (r) => (r.panels[0].prompt.grid = { rows: 1000, cols: 1000 }),
      'panels[0].prompt.grid',
      /too many visual tokens \(accepted: at most 16384\)/,
    ],
    ['a huge image side', (r) => (r.image.width = 1e6), 'image.width', /above the maximum 16384/],
    [
      'declared size ≠ the image',
      (r) => (r.image.dataUrl = solidBmpDataUrl(64, 48)),
      'image',
      /declares 120×90 but the image is 64×48/,
    ],
    [
      'an undecodable image',
      (r) => (r.image.dataUrl = 'data:image/png;base64,AAAAAAAAAAAA'),
      'image.dataUrl',
      /cannot be decoded \(accepted: PNG, JPEG/,
    ],
    [
      'image data not base64',
      (r) => (r.image.dataUrl = 'data:image/png;base64,@@@@'),
      'image.dataUrl',
      /base64 cannot be decoded/,
    ],
    [
      'view layer not captured',
      (r) => (r.view.layer = 7),
      'view.layer',
      /7 is not a captured layer \(accepted: 0, 1\)/,
    ],
    [
      'view head beyond the heads',
      (r) => (r.view.head = { kind: 'head', head: 5 }),
      'view.head.head',
      /not a head index \(accepted: 0 to 1\)/,
    ],
    ['view token beyond the answer', (r) => (r.view.token = 3), 'view.token', /not a token index \(accepted: 0 to 2/],
    ['a question of 200 000 characters', (r) => (r.question = 'x'.repeat(200_000)), 'question', /at most 100000/],
  ];
  it.each(cases)('%s: refused at once, naming the field and what is accepted', (_name, edit, field, message) => {
    const { e, ms } = refuse(edited(edit));
    expect(e.field).toBe(field);
    expect(e.message).toMatch(message);
    expect(ms).toBeLessThan(500);
  });

  it('a file above the size limit is refused before parsing', () => {
    expect(SESSION_LIMITS.maxChars).toBe(256 * 1024 * 1024);
    const text = serializeSession(makeSession());
    expect(() => parseSession(text, 1000)).toThrow(/MB is too large \(accepted: at most 0\.0 MB of JSON\)/);
    expect(parseSession(text, text.length)).toEqual(makeSession());
  });

  it('accepts a UTF-8 byte order mark', () => {
    const s = makeSession();
    expect(parseSession(`\uFEFF${serializeSession(s)}`)).toEqual(s);
  });
});

describe('image headers', () => {
  it('reads PNG, GIF, BMP and JPEG sizes', () => {
    const png = Buffer.from(
      'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==',
      'base64',
    );
    expect(readImageHeader(png)).toEqual({ format: 'png', width: 1, height: 1 });
    expect(readImageHeader(Buffer.from('GIF89a\x05\x00\x03\x00', 'latin1'))).toEqual({
      format: 'gif',
      width: 5,
      height: 3,
    });
    expect(dataUrlImageHeader(solidBmpDataUrl(7, 5))).toEqual({ format: 'bmp', width: 7, height: 5 });
    // SOI, APP0 (length 16), SOF0 with height 300 and width 400.
    const jpeg = Buffer.from([
      0xff,
      0xd8,
      0xff,
      0xe0,
      0,
      16,
      ...new Array(14).fill(0),
      0xff,
      0xc0,
      0,
      17,
      8,
      0x01,
      0x2c,
      0x01,
      0x90,
      3,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
    ]);
    expect(readImageHeader(jpeg)).toEqual({ format: 'jpeg', width: 400, height: 300 });
    expect(readImageHeader(Buffer.from([0xff, 0xd8, 0xff]))).toBeNull();
  });
});
