/**
 * @file The pixel size an image's own header declares (PNG, JPEG, GIF, WebP, BMP), read from a `data:image/…;base64`
 * URL without decoding pixels, so a session can be checked against itself (declared size = the image's size) in
 * Node and in the browser, synchronously. An image whose header cannot be read is reported as undecodable.
 */
import { base64ToBytes } from './base64.ts';

/** What the header says. */
export interface ImageHeader {
  format: 'png' | 'jpeg' | 'gif' | 'webp' | 'bmp';
  width: number;
  height: number;
}

/** Formats whose header is read; the app only stores these. */
export const IMAGE_FORMATS = ['png', 'jpeg', 'gif', 'webp', 'bmp'] as const;

const u16be = (b: Uint8Array, i: number) => (b[i] << 8) | b[i + 1];
const u16le = (b: Uint8Array, i: number) => b[i] | (b[i + 1] << 8);
const u24le = (b: Uint8Array, i: number) => b[i] | (b[i + 1] << 8) | (b[i + 2] << 16);
const u32be = (b: Uint8Array, i: number) => ((b[i] << 24) >>> 0) + ((b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]);
const i32le = (b: Uint8Array, i: number) => b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24);
const ascii = (b: Uint8Array, i: number, n: number) => String.fromCharCode(...b.subarray(i, i + n));

function jpegSize(b: Uint8Array): [number, number] | null {
  let i = 2;
  while (i + 9 < b.length) {
    if (b[i] !== 0xff) return null;
    const marker = b[i + 1];
    if (marker === 0xff) {
      i++;
      continue;
    }
    if (marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      i += 2;
      continue;
    }
    const len = u16be(b, i + 2);
    // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC).
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      return [u16be(b, i + 7), u16be(b, i + 5)];
    }
    if (len < 2) return null;
    i += 2 + len;
  }
  return null;
}

/** Reads the header of raw image bytes; null when the format is unknown or the header is cut. */
export function readImageHeader(b: Uint8Array): ImageHeader | null {
  if (b.length >= 24 && b[0] === 0x89 && ascii(b, 1, 3) === 'PNG' && ascii(b, 12, 4) === 'IHDR') {
    return { format: 'png', width: u32be(b, 16), height: u32be(b, 20) };
  }
  if (b.length >= 4 && b[0] === 0xff && b[1] === 0xd8) {
    const s = jpegSize(b);
    return s ? { format: 'jpeg', width: s[0], height: s[1] } : null;
  }
  if (b.length >= 10 && ascii(b, 0, 4) === 'GIF8') return { format: 'gif', width: u16le(b, 6), height: u16le(b, 8) };
  if (b.length >= 30 && ascii(b, 0, 4) === 'RIFF' && ascii(b, 8, 4) === 'WEBP') {
    const kind = ascii(b, 12, 4);
    if (kind === 'VP8X') return { format: 'webp', width: u24le(b, 24) + 1, height: u24le(b, 27) + 1 };
    if (kind === 'VP8L' && b[20] === 0x2f) {
      const bits = b[21] | (b[22] << 8) | (b[23] << 16) | (b[24] << 24);
      return { format: 'webp', width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1 };
    }
    if (kind === 'VP8 ' && b[23] === 0x9d && b[24] === 0x01 && b[25] === 0x2a) {
      return { format: 'webp', width: u16le(b, 26) & 0x3fff, height: u16le(b, 28) & 0x3fff };
    }
    return null;
  }
  if (b.length >= 26 && ascii(b, 0, 2) === 'BM')
    return { format: 'bmp', width: Math.abs(i32le(b, 18)), height: Math.abs(i32le(b, 22)) };
  return null;
}

/**
 * Reads the header of a `data:image/<type>;base64,<data>` URL.
 * @throws Error saying why the URL is not a readable image
 */
export function dataUrlImageHeader(dataUrl: string): ImageHeader {
  const m = /^data:image\/[\w.+-]+;base64,/.exec(dataUrl);
  if (!m) throw new Error('expected a data:image/<type>;base64,… URL');
  let bytes: Uint8Array;
  try {
    bytes = base64ToBytes(dataUrl.slice(m[0].length));
  } catch (e) {
    throw new Error(`its base64 cannot be decoded (${(e as Error).message})`, { cause: e });
  }
  const header = readImageHeader(bytes);
  if (!header || header.width < 1 || header.height < 1) {
    throw new Error(
      `the image cannot be decoded (accepted: ${IMAGE_FORMATS.join(', ').toUpperCase()} with a readable header)`,
    );
  }
  return header;
}

/** A solid grey 24-bit BMP of the given size as a data URL (test fixtures whose declared size must match). */
export function solidBmpDataUrl(width: number, height: number): string {
  const row = Math.ceil((width * 3) / 4) * 4;
  const size = 54 + row * height;
  const b = new Uint8Array(size);
  const v = new DataView(b.buffer);
  b[0] = 0x42;
  b[1] = 0x4d;
  v.setUint32(2, size, true);
  v.setUint32(10, 54, true);
  v.setUint32(14, 40, true);
  v.setInt32(18, width, true);
  v.setInt32(22, height, true);
  v.setUint16(26, 1, true);
  v.setUint16(28, 24, true);
  v.setUint32(34, row * height, true);
  b.fill(0xb0, 54);
  let bin = '';
  for (let i = 0; i < b.length; i += 8192) bin += String.fromCharCode(...b.subarray(i, i + 8192));
  return `data:image/bmp;base64,${btoa(bin)}`;
}
