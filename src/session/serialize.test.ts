/**
 * @file Session JSON: bit-exact round trips, the base64 codec against Node's Buffer, and one clear
 * SessionError naming the field for each kind of damage a hand-edited or truncated file can have.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { bytesToBase64, bytesToBase64Js, base64ToBytes, base64ToFloats, floatsToBase64 } from './base64.ts';
import { SessionError, parseSession, serializeSession } from './serialize.ts';
import { makeSession } from '../../lab/testutils/session.ts';

/** Parses, edits the raw JSON object, and re-parses; returns the error thrown. */
function errorAfter(edit: (raw: any) => void): SessionError {
  const raw = JSON.parse(serializeSession(makeSession()));
  edit(raw);
  try {
    parseSession(JSON.stringify(raw));
  } catch (e) {
    expect(e).toBeInstanceOf(SessionError);
    return e as SessionError;
  }
  throw new Error('parseSession accepted a damaged file');
}

describe('base64 codec', () => {
  it('matches Node Buffer for random bytes, both ways', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const ref = Buffer.from(bytes).toString('base64');
        expect(bytesToBase64(bytes)).toBe(ref);
        expect(bytesToBase64Js(bytes)).toBe(ref);
        expect(Array.from(base64ToBytes(ref))).toEqual(Array.from(bytes));
      }),
    );
  });

  it('matches Buffer across chunk boundaries (100 KB)', () => {
    const bytes = Uint8Array.from({ length: 100_003 }, (_, i) => (i * 2654435761) >>> 24);
    expect(bytesToBase64(bytes)).toBe(Buffer.from(bytes).toString('base64'));
  });

  it('round-trips float32 bit patterns exactly (incl. -0, subnormals, extremes)', () => {
    const special = new Float32Array([0, -0, 1e-45, -1e-45, 3.4028234e38, 1 / 3, 1e-8]);
    const back = base64ToFloats(floatsToBase64(special));
    expect(new Uint32Array(back.buffer)).toEqual(new Uint32Array(special.buffer));
    fc.assert(
      fc.property(fc.float32Array({ maxLength: 64, noDefaultInfinity: true, noNaN: true }), (a) => {
        const b = base64ToFloats(floatsToBase64(a));
        expect(new Uint32Array(b.buffer, b.byteOffset, b.length)).toEqual(
          new Uint32Array(a.buffer, a.byteOffset, a.length),
        );
      }),
    );
  });

  it('encodes a subarray view, not its whole buffer', () => {
    const whole = new Float32Array([1, 2, 3, 4]);
    expect(Array.from(base64ToFloats(floatsToBase64(whole.subarray(1, 3))))).toEqual([2, 3]);
  });

  it('rejects bad length and bad characters', () => {
    expect(() => base64ToBytes('abc')).toThrow(/multiple of 4/);
    expect(() => base64ToBytes('ab$d')).toThrow(/invalid base64 character "\$"/);
    expect(() => base64ToBytes('a=bc')).toThrow(/invalid base64 character "="/);
  });
});

describe('serializeSession / parseSession', () => {
  it('round-trips a session exactly', () => {
    const s = makeSession({ tokens: 4 });
    const back = parseSession(serializeSession(s));
    expect(back).toEqual(s);
    expect(back.panels[1].steps[3].attention).toBeInstanceOf(Float32Array);
    expect(serializeSession(back)).toBe(serializeSession(s));
  });

  it('keeps optional fields optional (no summary, a notice, view token "selected", head picked)', () => {
    const s = makeSession();
    delete s.panels[0].summary;
    s.panels[1].prompt.notice = 'downscaled to fit max_pixels';
    s.panels[1].source = 'score';
    s.view = { ...s.view, token: 'selected', head: { kind: 'head', head: 1 }, norm: 'shared', colorBy: 'entropy' };
    expect(parseSession(serializeSession(s))).toEqual(s);
  });

  it('keeps zero-area boxes (the core reports them; the session must still load)', () => {
    const s = makeSession();
    s.boxes.push([30, 30, 30, 50]);
    expect(parseSession(serializeSession(s)).boxes).toEqual(s.boxes);
  });

  it('accepts steps without attention (models with no attention outputs)', () => {
    const s = makeSession();
    for (const st of s.panels[0].steps) {
      st.attention = new Float32Array(0);
      st.imageShare = new Float32Array(0);
      st.rowSum = new Float32Array(0);
    }
    expect(parseSession(serializeSession(s))).toEqual(s);
  });

  it('is compact: a 50-token, 2-layer × 2-head, 1,300-cell pair costs < 5.4 bytes per float (base64: 5.33)', () => {
    const s = makeSession({ rows: 26, cols: 50, tokens: 50, layers: [2, 3], heads: 2 });
    const text = serializeSession(s);
    const floats = 2 * 50 * 2 * 2 * 1300;
    expect((text.length - s.image.dataUrl.length) / floats).toBeLessThan(5.4);
    const asNumbers = JSON.stringify(s.panels.map((p) => p.steps.map((st) => Array.from(st.attention))));
    expect(asNumbers.length / text.length).toBeGreaterThan(3);
  });
});

describe('parseSession errors name the field', () => {
  it('empty, truncated and non-JSON text', () => {
    expect(() => parseSession('')).toThrow(/empty/);
    const text = serializeSession(makeSession());
    expect(() => parseSession(text.slice(0, text.length / 2))).toThrow(/not valid JSON — the file may be truncated/);
    expect(() => parseSession('[1, 2]')).toThrow(SessionError);
  });

  it('wrong format tag and newer version', () => {
    expect(errorAfter((r) => delete r.format).field).toBe('format');
    const e = errorAfter((r) => (r.version = 2));
    expect(e.field).toBe('version');
    expect(e.message).toMatch(/newer SAYO Lens/);
  });

  const cases: [string, (r: any) => void, string, RegExp][] = [
    ['missing question', (r) => delete r.question, 'question', /expected a string, got missing/],
    ['bad date', (r) => (r.createdAt = 'yesterday'), 'createdAt', /not a date/],
    ['image not a data URL', (r) => (r.image.dataUrl = 'http://x/y.png'), 'image.dataUrl', /data:image/],
    ['negative width', (r) => (r.image.width = -3), 'image.width', /below the minimum 1/],
    ['box with 3 numbers', (r) => (r.boxes[0] = [1, 2, 3]), 'boxes[0]', /got 3 numbers/],
    ['box as string', (r) => (r.boxes[0][2] = '60'), 'boxes[0][2]', /finite number/],
    ['inverted box', (r) => (r.boxes[0] = [50, 0, 10, 10]), 'boxes[0]', /x1 ≤ x2/],
    [
      'layers differ between steps',
      (r) => (r.panels[0].steps[2].layers = [0, 2]),
      'panels[0].steps[2].layers',
      /\[0,2\] differs from step 0's \[0,1\]/,
    ],
    [
      'heads differ between steps',
      (r) => (r.panels[1].steps[1].heads = 1),
      'panels[1].steps[1].attention',
      /has 48 values, expected 24 or 0/,
    ],
    ['unknown side', (r) => (r.panels[1].side = 'rl'), 'panels[1].side', /"base", "trained"/],
    [
      'prompt image mismatch',
      (r) => (r.panels[0].prompt.image.width = 121),
      'panels[0].prompt.image',
      /does not match the session image 120×90/,
    ],
    ['gridThw short', (r) => (r.panels[0].prompt.gridThw = [1, 6]), 'panels[0].prompt.gridThw', /\[t, h, w\]/],
    ['step n mismatch', (r) => (r.panels[0].steps[1].n = 13), 'panels[0].steps[1].n', /12 cells/],
    [
      'attention truncated',
      (r) => (r.panels[1].steps[2].attention = r.panels[1].steps[2].attention.slice(0, 40)),
      'panels[1].steps[2].attention',
      /30 bytes is not a whole number/,
    ],
    [
      'attention short',
      (r) => (r.panels[1].steps[2].attention = r.panels[1].steps[2].attention.slice(0, 32)),
      'panels[1].steps[2].attention',
      /has 6 values, expected 48 or 0/,
    ],
    [
      'attention not base64',
      (r) => (r.panels[1].steps[0].attention = 'not base64!'),
      'panels[1].steps[0].attention',
      /not a base64 float32 array/,
    ],
    [
      'attention as numbers',
      (r) => (r.panels[1].steps[0].attention = [0.1, 0.2]),
      'panels[1].steps[0].attention',
      /expected a string, got an array of 2/,
    ],
    [
      'NaN in attention',
      (r) => (r.panels[0].steps[0].attention = floatsToBase64(new Float32Array(48).fill(NaN))),
      'panels[0].steps[0].attention',
      /value 0 is NaN/,
    ],
    [
      'rowSum wrong length',
      (r) => (r.panels[0].steps[0].rowSum = floatsToBase64(new Float32Array(3))),
      'panels[0].steps[0].rowSum',
      /expected 4 or 0/,
    ],
    ['steps out of order', (r) => (r.panels[0].steps[2].index = 1), 'panels[0].steps[2].index', /does not follow 1/],
    ['negative entropy', (r) => (r.panels[0].steps[0].entropy = -1), 'panels[0].steps[0].entropy', /outside/],
    ['bad stoppedBy', (r) => (r.panels[0].summary.stoppedBy = 'timeout'), 'panels[0].summary.stoppedBy', /"eos"/],
    ['opacity above 1', (r) => (r.view.opacity = 1.5), 'view.opacity', /outside \[0, 1\]/],
    ['token word', (r) => (r.view.token = 'first'), 'view.token', /"all", "selected"/],
    ['token fraction', (r) => (r.view.token = 1.5), 'view.token', /integer/],
    ['head kind', (r) => (r.view.head = { kind: 'min' }), 'view.head.kind', /"mean", "max", "head"/],
    ['head index missing', (r) => (r.view.head = { kind: 'head' }), 'view.head.head', /integer, got missing/],
    ['norm', (r) => (r.view.norm = 'minmax'), 'view.norm', /"raw", "image", "shared"/],
  ];
  it.each(cases)('%s', (_name, edit, field, message) => {
    const e = errorAfter(edit);
    expect(e.field).toBe(field);
    expect(e.message).toMatch(message);
    expect(e.message).toContain(`"${field}"`);
  });
});
