/**
 * @file fetch() with every wait bounded, for model files on the web (the browser engine and `sayo inspect <url>`):
 * only http(s) URLs; a connect timeout (request → response headers); an idle timeout (no body bytes for a while); an
 * optional total time; a size cap (declared Content-Length or counted bytes); redirects followed hop by hop (at most
 * `maxRedirects`, http(s) only) and reported to the caller, where fetch can expose them. The returned Response
 * streams the body through these checks, so a stalled or endless server ends with a FetchLimitError naming the URL,
 * the limit and the figure, never with a hang or an exhausted heap. An AbortSignal (Stop) ends any wait.
 */
import { DOWNLOAD_LIMITS } from '../core/limits.ts';

/** Why a download was stopped. */
export type FetchLimitKind =
  'scheme' | 'connect_timeout' | 'idle_timeout' | 'total_timeout' | 'too_large' | 'redirects' | 'network' | 'aborted';

/** A download stopped by a limit (or by the network / the user); the message names the URL and the limit. */
export class FetchLimitError extends Error {
  constructor(
    public readonly kind: FetchLimitKind,
    public readonly url: string,
    reason: string,
  ) {
    super(`${url}: ${reason}`);
    this.name = 'FetchLimitError';
  }
}

/** The bounds of one download (defaults: DOWNLOAD_LIMITS). */
export interface FetchLimits {
  connectTimeoutMs: number;
  idleTimeoutMs: number;
  /** Whole download, headers to last byte (none by default: large weights on slow links). */
  totalTimeoutMs?: number;
  maxBytes: number;
  maxRedirects: number;
}

/** What a limited fetch gives back. */
export interface LimitedResponse {
  response: Response;
  /** Each redirect hop followed: [from, to]. */
  redirects: Array<[string, string]>;
}

const seconds = (ms: number) => `${+(ms / 1000).toFixed(3)} s`;
const mb = (b: number) => `${(b / 1e6).toFixed(1)} MB`;

/**
 * Checks that `url` is an absolute http(s) URL.
 * @throws FetchLimitError('scheme') naming what is accepted
 */
export function checkHttpUrl(url: string): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new FetchLimitError('scheme', url, 'not a URL (accepted: http:// or https:// URLs)');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new FetchLimitError(
      'scheme',
      url,
      `the ${u.protocol} scheme is not accepted (accepted: http:// or https://)`,
    );
  }
  if (u.username || u.password) throw new FetchLimitError('scheme', url, 'credentials in the URL are not accepted');
  return u;
}

/** A body stream that enforces the idle timeout, the total deadline and the size cap while it is read. */
function limitedBody(
  body: ReadableStream<Uint8Array>,
  url: string,
  limits: FetchLimits,
  deadline: number,
  signal?: AbortSignal,
): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  let bytes = 0;
  const fail = (e: FetchLimitError) => {
    void reader.cancel(e).catch(() => undefined);
    throw e;
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const wait = Math.min(limits.idleTimeoutMs, deadline - Date.now());
      const stop = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => {
            const total = deadline - Date.now() <= 0;
            reject(
              total
                ? new FetchLimitError(
                    'total_timeout',
                    url,
                    `the download took longer than ${seconds(limits.totalTimeoutMs ?? 0)} (total time limit)`,
                  )
                : new FetchLimitError(
                    'idle_timeout',
                    url,
                    `no data for ${seconds(limits.idleTimeoutMs)} after ${mb(bytes)} (idle timeout)`,
                  ),
            );
          },
          Math.max(0, wait),
        );
        signal?.addEventListener('abort', () => reject(new FetchLimitError('aborted', url, 'stopped')), { once: true });
      });
      try {
        const { done, value } = await Promise.race([reader.read(), stop]);
        if (done) return controller.close();
        bytes += value.byteLength;
        if (bytes > limits.maxBytes)
          fail(new FetchLimitError('too_large', url, `more than ${mb(limits.maxBytes)} (size limit)`));
        controller.enqueue(value);
      } catch (e) {
        if (e instanceof FetchLimitError) fail(e);
        throw new FetchLimitError('network', url, `the download broke off (${(e as Error).message})`);
      } finally {
        clearTimeout(timer);
      }
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
}

/**
 * fetch() within `limits`. Redirects are followed by hand (each hop checked and recorded) where the platform shows
 * them (Node); in browsers, where a manual redirect is opaque, fetch follows them and the final URL is recorded.
 * @throws FetchLimitError for a refused scheme, a timeout before the headers, too many redirects or a network error
 */
export async function fetchLimited(
  url: string,
  init: { method?: 'GET' | 'HEAD'; headers?: HeadersInit; signal?: AbortSignal } = {},
  limits: FetchLimits = { ...DOWNLOAD_LIMITS, maxBytes: DOWNLOAD_LIMITS.maxFileBytes },
): Promise<LimitedResponse> {
  const start = Date.now();
  const deadline = limits.totalTimeoutMs === undefined ? Infinity : start + limits.totalTimeoutMs;
  const redirects: Array<[string, string]> = [];
  const browser =
    typeof window !== 'undefined' ||
    typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope !== 'undefined';
  let current = checkHttpUrl(url).href;
  for (;;) {
    const ctrl = new AbortController();
    const onAbort = () => ctrl.abort();
    init.signal?.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(() => ctrl.abort(), Math.min(limits.connectTimeoutMs, deadline - Date.now()));
    let res: Response;
    try {
      res = await fetch(current, {
        method: init.method ?? 'GET',
        headers: init.headers,
        redirect: browser ? 'follow' : 'manual',
        signal: ctrl.signal,
      });
    } catch (e) {
      if (init.signal?.aborted) throw new FetchLimitError('aborted', current, 'stopped');
      if (ctrl.signal.aborted) {
        throw new FetchLimitError(
          'connect_timeout',
          current,
          `no response within ${seconds(Math.min(limits.connectTimeoutMs, deadline - start))} (connect timeout)`,
        );
      }
      const cause = (e as { cause?: { message?: string; code?: string } }).cause;
      throw new FetchLimitError(
        'network',
        current,
        `cannot connect (${cause?.code ?? cause?.message ?? (e as Error).message})`,
      );
    } finally {
      clearTimeout(timer);
      init.signal?.removeEventListener('abort', onAbort);
    }
    if (browser && res.redirected && res.url && res.url !== current) {
      redirects.push([current, res.url]);
      current = res.url;
    }
    const location = res.headers.get('location');
    if (!browser && res.status >= 300 && res.status < 400 && location) {
      void res.body?.cancel().catch(() => undefined);
      const next = new URL(location, current).href;
      if (redirects.length >= limits.maxRedirects) {
        throw new FetchLimitError('redirects', url, `more than ${limits.maxRedirects} redirects (last to ${next})`);
      }
      checkHttpUrl(next);
      redirects.push([current, next]);
      current = next;
      continue;
    }
    const declared = Number(res.headers.get('content-length') ?? NaN);
    if (Number.isFinite(declared) && declared > limits.maxBytes) {
      void res.body?.cancel().catch(() => undefined);
      throw new FetchLimitError(
        'too_large',
        current,
        `${mb(declared)} declared, more than ${mb(limits.maxBytes)} (size limit)`,
      );
    }
    const bodiless = [101, 103, 204, 205, 304].includes(res.status) || (init.method ?? 'GET') === 'HEAD';
    const body = res.body && !bodiless ? limitedBody(res.body, current, limits, deadline, init.signal) : null;
    const response = new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
    return { response, redirects };
  }
}

/**
 * A limited response's body as text. Read through its stream reader, because Response.text() in Chromium replaces
 * the stream's error with a bare "Failed to fetch", losing which limit stopped the download.
 */
export async function readBodyText(res: Response): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return text + decoder.decode();
    text += decoder.decode(value, { stream: true });
  }
}
