/**
 * @file Keeping a session: the current session in IndexedDB (idb-keyval, stored as the same versioned JSON as the
 * export, so one validator guards both), and the view state in the URL query (token, layer, head, mode, opacity,
 * colour-by). URL values are validated one by one: a bad value is dropped (and reported) and its default is used.
 */
import { createStore, del, get, set, type UseStore } from 'idb-keyval';
import type { HeadMode, NormMode } from '../core/aggregate.ts';
import type { LensSession, ViewState } from './types.ts';
import { SessionError, parseSession, serializeSession } from './serialize.ts';

/** IndexedDB database name. */
export const DB_NAME = 'sayo-lens';
/** IndexedDB object store name. */
export const STORE_NAME = 'sessions';
/** Key of the current session. */
export const CURRENT_KEY = 'current';

let idbStore: UseStore | undefined;
function store(): UseStore {
  if (typeof indexedDB === 'undefined')
    throw new Error('this browser has no IndexedDB: the session cannot be kept across reloads');
  return (idbStore ??= createStore(DB_NAME, STORE_NAME));
}

/**
 * Stores the session as the current one (replacing the previous).
 * @throws Error with a readable message when IndexedDB is missing or refuses (e.g. storage quota exceeded)
 */
export async function saveSession(s: LensSession): Promise<void> {
  const text = serializeSession(s);
  // Only what import would accept is kept, so a stored record can never fail (or freeze) the next visit.
  parseSession(text);
  try {
    await set(CURRENT_KEY, text, store());
  } catch (e) {
    const why = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    throw new Error(`could not keep the session in this browser (${(text.length / 1e6).toFixed(1)} MB): ${why}`, {
      cause: e,
    });
  }
}

/**
 * The stored current session, or null when none is stored.
 * @throws SessionError when the stored copy fails validation (damaged, or beyond the limits of core/limits.ts): it is
 *   removed, so that it cannot fail or freeze every later visit, and the message says so
 */
export async function loadSession(): Promise<LensSession | null> {
  const text: unknown = await get(CURRENT_KEY, store());
  if (text === undefined) return null;
  try {
    if (typeof text !== 'string') throw new SessionError('', 'the session stored in this browser is not session JSON');
    return parseSession(text);
  } catch (e) {
    await del(CURRENT_KEY, store()).catch(() => undefined);
    if (!(e instanceof SessionError)) throw e;
    throw new SessionError(
      e.field,
      `${e.message.replace(/^Session file(, field "[^"]*")?: /, '')} — it was removed from this browser`,
    );
  }
}

/** Forgets the stored current session. */
export async function clearSession(): Promise<void> {
  await del(CURRENT_KEY, store());
}

/** View used for anything the URL does not set (the app usually passes its own, e.g. the last captured layer). */
export const DEFAULT_VIEW: ViewState = {
  token: 'all',
  layer: 0,
  head: { kind: 'mean' },
  norm: 'image',
  opacity: 0.6,
  colorBy: 'ra',
};

/** URL parameter names of the view fields. */
export const VIEW_PARAMS = ['token', 'layer', 'head', 'mode', 'opacity', 'color'] as const;

const NORMS: readonly NormMode[] = ['raw', 'image', 'shared'];
const MAX_INDEX = 1_000_000;

function headToParam(head: HeadMode): string {
  return head.kind === 'head' ? `h${head.head}` : head.kind;
}

/**
 * The view state as a URL query string (with the leading "?"), e.g. `?token=3&layer=7&head=h2&mode=image&…`.
 * @param extra further parameters to keep in the URL (e.g. a sample id); view parameters take precedence
 */
export function viewToSearch(view: ViewState, extra: Record<string, string> = {}): string {
  const p = new URLSearchParams();
  p.set('token', String(view.token));
  p.set('layer', String(view.layer));
  p.set('head', headToParam(view.head));
  p.set('mode', view.norm);
  p.set('opacity', String(Math.round(view.opacity * 100) / 100));
  p.set('color', view.colorBy);
  for (const [k, v] of Object.entries(extra)) if (!p.has(k)) p.set(k, v);
  return `?${p.toString()}`;
}

/** What a URL query says about the view: the valid values, the rejected ones, and the other parameters. */
export interface ViewSearch {
  values: Partial<ViewState>;
  /** Parameters present with an invalid value (their defaults apply). */
  rejected: { param: string; value: string }[];
  /** Parameters that are not view fields. */
  extra: Record<string, string>;
}

function parseIndex(v: string): number | undefined {
  if (!/^\d{1,7}$/.test(v)) return undefined;
  const n = Number(v);
  return n <= MAX_INDEX ? n : undefined;
}

const READERS: Record<(typeof VIEW_PARAMS)[number], (v: string) => Partial<ViewState> | undefined> = {
  token: (v) =>
    v === 'all' || v === 'selected'
      ? { token: v }
      : parseIndex(v) === undefined
        ? undefined
        : { token: parseIndex(v)! },
  layer: (v) => (parseIndex(v) === undefined ? undefined : { layer: parseIndex(v)! }),
  head: (v) => {
    if (v === 'mean' || v === 'max') return { head: { kind: v } };
    const m = /^h?(\d{1,4})$/.exec(v);
    return m ? { head: { kind: 'head', head: Number(m[1]) } } : undefined;
  },
  mode: (v) => ((NORMS as readonly string[]).includes(v) ? { norm: v as NormMode } : undefined),
  opacity: (v) => {
    const x = v.trim() === '' ? NaN : Number(v);
    return Number.isFinite(x) && x >= 0 && x <= 1 ? { opacity: x } : undefined;
  },
  color: (v) => (v === 'ra' || v === 'entropy' ? { colorBy: v } : undefined),
};

/** Reads a URL query (with or without "?") into valid view values, rejected parameters and extra parameters. */
export function readViewSearch(search: string): ViewSearch {
  const p = new URLSearchParams(search);
  const out: ViewSearch = { values: {}, rejected: [], extra: {} };
  for (const [param, value] of p) {
    const read = READERS[param as (typeof VIEW_PARAMS)[number]];
    if (!read) {
      out.extra[param] = value;
      continue;
    }
    const got = read(value);
    if (got) Object.assign(out.values, got);
    else out.rejected.push({ param, value });
  }
  return out;
}

/**
 * The view state a URL query asks for; anything missing or invalid comes from `defaults`.
 * (Whether the layer / head / token exist in the loaded session is for the caller to check.)
 */
export function viewFromSearch(search: string, defaults: ViewState = DEFAULT_VIEW): ViewState {
  return { ...defaults, ...readViewSearch(search).values };
}
