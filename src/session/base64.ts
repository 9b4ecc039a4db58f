/**
 * @file Float32Array ↔ base64 (little-endian IEEE-754 bytes), the same in Node and the browser.
 * Native codecs do the work (Buffer in Node, btoa / atob in browsers) behind a strict whole-string check (alphabet,
 * padding, length), so a damaged file is reported — by the pure-JS decoder, naming the bad character — never misread.
 */

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const DECODE = new Int16Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) DECODE[ALPHABET.charCodeAt(i)] = i;

/** True when this machine stores typed arrays little-endian (every platform we target). */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Node's Buffer when present (much faster than Node's legacy `btoa`); absent in browsers. */
interface BufferLike {
  from(
    data: ArrayBufferLike | string,
    offsetOrEncoding?: number | string,
    length?: number,
  ): Uint8Array & { toString(encoding: string): string };
}
const NodeBuffer = (globalThis as { Buffer?: BufferLike }).Buffer;

/** Encodes raw bytes as standard padded base64 (Buffer in Node, `btoa` on chunks in browsers, else pure JS). */
export function bytesToBase64(bytes: Uint8Array): string {
  if (NodeBuffer) return NodeBuffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
  if (typeof btoa === 'function') {
    const parts: string[] = [];
    const CHUNK = 3 * 8192;
    for (let i = 0; i < bytes.length; i += CHUNK) {
      parts.push(btoa(String.fromCharCode.apply(null, bytes.subarray(i, i + CHUNK) as unknown as number[])));
    }
    return parts.join('');
  }
  return bytesToBase64Js(bytes);
}

/** Pure-JS base64 encoder (standard alphabet, padded). */
export function bytesToBase64Js(bytes: Uint8Array): string {
  const parts: string[] = [];
  const CHUNK = 3 * 4096;
  for (let start = 0; start < bytes.length; start += CHUNK) {
    const end = Math.min(start + CHUNK, bytes.length);
    let s = '';
    let i = start;
    for (; i + 2 < end; i += 3) {
      const v = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
      s += ALPHABET[v >> 18] + ALPHABET[(v >> 12) & 63] + ALPHABET[(v >> 6) & 63] + ALPHABET[v & 63];
    }
    if (end - i === 1) {
      const v = bytes[i] << 16;
      s += ALPHABET[v >> 18] + ALPHABET[(v >> 12) & 63] + '==';
    } else if (end - i === 2) {
      const v = (bytes[i] << 16) | (bytes[i + 1] << 8);
      s += ALPHABET[v >> 18] + ALPHABET[(v >> 12) & 63] + ALPHABET[(v >> 6) & 63] + '=';
    }
    parts.push(s);
  }
  return parts.join('');
}

/**
 * Decodes standard padded base64.
 * @throws Error with a short reason (bad length or character) — the caller adds the field name.
 */
export function base64ToBytes(text: string): Uint8Array {
  if (text.length % 4 !== 0) throw new Error(`base64 length ${text.length} is not a multiple of 4 (truncated?)`);
  if (isStrictBase64(text)) {
    if (NodeBuffer) {
      const b = NodeBuffer.from(text, 'base64');
      return new Uint8Array(b.buffer, b.byteOffset, b.length).slice();
    }
    if (typeof atob === 'function') {
      const bin = atob(text);
      const out = new Uint8Array(bin.length);
      for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
      return out;
    }
  }
  return base64ToBytesJs(text);
}

/** Whole-string check: alphabet characters, then at most two "=" of padding (length already a multiple of 4). */
function isStrictBase64(text: string): boolean {
  const pad = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  const end = text.length - pad;
  for (let i = 0; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c >= 128 || DECODE[c] < 0) return false;
  }
  return true;
}

/** Pure-JS strict decoder; its errors name the offending character and offset. */
function base64ToBytesJs(text: string): Uint8Array {
  const pad = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  const out = new Uint8Array((text.length / 4) * 3 - pad);
  let o = 0;
  for (let i = 0; i < text.length; i += 4) {
    let v = 0;
    for (let j = 0; j < 4; j++) {
      const c = text.charCodeAt(i + j);
      const last = i + 4 === text.length;
      if (c === 61 /* = */ && last && j >= 4 - pad) {
        v <<= 6;
        continue;
      }
      const d = c < 128 ? DECODE[c] : -1;
      if (d < 0) throw new Error(`invalid base64 character ${JSON.stringify(text[i + j])} at offset ${i + j}`);
      v = (v << 6) | d;
    }
    out[o++] = (v >> 16) & 255;
    if (o < out.length) out[o++] = (v >> 8) & 255;
    if (o < out.length) out[o++] = v & 255;
  }
  return out;
}

/** Float32Array → base64 of its little-endian bytes. */
export function floatsToBase64(values: Float32Array): string {
  if (LITTLE_ENDIAN) return bytesToBase64(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
  const bytes = new Uint8Array(values.length * 4);
  const view = new DataView(bytes.buffer);
  values.forEach((v, i) => view.setFloat32(i * 4, v, true));
  return bytesToBase64(bytes);
}

/**
 * base64 of little-endian float32 bytes → Float32Array.
 * @throws Error when the text is not base64 or its byte count is not a multiple of 4.
 */
export function base64ToFloats(text: string): Float32Array {
  const bytes = base64ToBytes(text);
  if (bytes.length % 4 !== 0) throw new Error(`${bytes.length} bytes is not a whole number of float32 values`);
  if (LITTLE_ENDIAN) return new Float32Array(bytes.buffer, 0, bytes.length / 4);
  const view = new DataView(bytes.buffer);
  const out = new Float32Array(bytes.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}
