/**
 * @file The app's security policy in one place: a Content-Security-Policy (as a <meta> in the built HTML, and as a
 * header from the dev and preview servers, where frame-ancestors can be enforced), X-Content-Type-Options: nosniff,
 * X-Frame-Options and Referrer-Policy, and cross-origin isolation.
 *
 * Cross-origin isolation (Cross-Origin-Opener-Policy: same-origin + Cross-Origin-Embedder-Policy: credentialless,
 * headers only, dev and preview) gives the page SharedArrayBuffer, so onnxruntime-web can run its WASM kernels on
 * more than one thread (src/engine/threads.ts, browser.ts). credentialless, not require-corp: a model URL the user
 * gives is fetched with CORS (fetch() from the worker), which either policy allows, but require-corp would also block
 * any no-cors subresource from another origin that lacks Cross-Origin-Resource-Policy; credentialless loads those
 * without cookies instead. The app opens no popups (same-origin COOP costs nothing). A static host that does not send
 * these headers serves a page that is not isolated: the engine sees `crossOriginIsolated` false and runs one thread.
 *
 * What the app needs, and so what the policy allows: its own scripts and workers; ONNX Runtime's wasm (compiled with
 * 'wasm-unsafe-eval'; transformers.js imports ORT's glue from a blob: URL); model files from the app and from http(s)
 * model URLs the user gives (connect-src https:, and http: on loopback for a local model server); images as data:
 * and blob: URLs; inline style attributes (React / d3). Nothing else: no plugins, no framing, no form posts, no
 * <base> rewriting. The dev server adds what Vite's HMR needs (its inline preamble and websocket).
 */
import type { Plugin } from 'vite';

/** The policy's directives; `dev` adds Vite's inline preamble and HMR websocket. */
export function contentSecurityPolicy(options: { dev?: boolean; header?: boolean } = {}): string {
  const d: Record<string, string[]> = {
    'default-src': ["'self'"],
    'script-src': ["'self'", "'wasm-unsafe-eval'", 'blob:', ...(options.dev ? ["'unsafe-inline'"] : [])],
    'worker-src': ["'self'", 'blob:'],
    'connect-src': [
      "'self'",
      'https:',
      'http://127.0.0.1:*',
      'http://localhost:*',
      'blob:',
      'data:',
      ...(options.dev ? ['ws:'] : []),
    ],
    'img-src': ["'self'", 'data:', 'blob:'],
    'style-src': ["'self'", "'unsafe-inline'"],
    'font-src': ["'self'"],
    'object-src': ["'none'"],
    'base-uri': ["'self'"],
    'form-action': ["'none'"],
  };
  // frame-ancestors is ignored (and warned about) in a <meta> policy: headers only.
  if (options.header) d['frame-ancestors'] = ["'none'"];
  return Object.entries(d)
    .map(([k, v]) => `${k} ${v.join(' ')}`)
    .join('; ');
}

/** The headers that make the page cross-origin isolated (SharedArrayBuffer, so WASM threads). */
export function crossOriginIsolation(): Record<string, string> {
  return {
    'Cross-Origin-Opener-Policy': 'same-origin',
    'Cross-Origin-Embedder-Policy': 'credentialless',
  };
}

/** Headers of every response of the dev and preview servers. */
export function securityHeaders(dev: boolean): Record<string, string> {
  return {
    'Content-Security-Policy': contentSecurityPolicy({ dev, header: true }),
    'X-Content-Type-Options': 'nosniff',
    'X-Frame-Options': 'DENY',
    'Referrer-Policy': 'no-referrer',
    ...crossOriginIsolation(),
  };
}

/** Vite plugin: the headers in dev and preview, the <meta> policy in every built HTML page. */
export function securityPolicy(): Plugin {
  const use =
    (dev: boolean) =>
    (server: {
      middlewares: {
        use(fn: (req: unknown, res: { setHeader(k: string, v: string): void }, next: () => void) => void): void;
      };
    }) => {
      server.middlewares.use((_req, res, next) => {
        for (const [k, v] of Object.entries(securityHeaders(dev))) res.setHeader(k, v);
        next();
      });
    };
  let building = false;
  return {
    name: 'sayo-security-policy',
    configResolved(cfg) {
      building = cfg.command === 'build';
    },
    configureServer: use(true),
    configurePreviewServer: use(false),
    transformIndexHtml() {
      if (!building) return [];
      return [
        {
          tag: 'meta',
          attrs: { 'http-equiv': 'Content-Security-Policy', content: contentSecurityPolicy() },
          injectTo: 'head-prepend',
        },
      ];
    },
  };
}
