/**
 * @file A local model server for the large-folder specs: serves one folder over plain HTTP on loopback (what a user's
 * own model server is; the app's CSP allows http://127.0.0.1:*), streaming files from disk (sparse files cost no
 * memory, a 2 GB chunk is never held whole), answering HEAD with the file's real Content-Length, with CORS so the
 * cross-origin-isolated page may read it. Every request is logged with its method, path and the body bytes sent, so a
 * spec can count what was downloaded.
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';

/** One request the server answered. */
export interface ServedRequest {
  method: string;
  path: string;
  status: number;
  bytes: number;
}

/** A running server: its base URL (ends with '/'), the request log, and close(). */
export interface ModelServer {
  url: string;
  log: ServedRequest[];
  close(): Promise<void>;
}

/** Serves `dir` on 127.0.0.1 (a free port). */
export async function serveFolder(dir: string): Promise<ModelServer> {
  const log: ServedRequest[] = [];
  const server = http.createServer((req, res) => {
    const rel = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname).replace(/^\/+/, '');
    const file = path.join(dir, rel);
    const entry: ServedRequest = { method: req.method ?? 'GET', path: rel, status: 200, bytes: 0 };
    log.push(entry);
    res.setHeader('Access-Control-Allow-Origin', '*');
    res.setHeader('Access-Control-Expose-Headers', 'Content-Length');
    res.setHeader('Cross-Origin-Resource-Policy', 'cross-origin');
    const stat = rel.split('/').includes('..') ? undefined : fs.statSync(file, { throwIfNoEntry: false });
    if (!stat?.isFile()) {
      entry.status = 404;
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end(`404: ${rel}`);
      return;
    }
    res.writeHead(200, {
      'Content-Type': rel.endsWith('.json') ? 'application/json' : 'application/octet-stream',
      'Content-Length': String(stat.size),
    });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    const stream = fs.createReadStream(file, { highWaterMark: 4 << 20 });
    stream.on('data', (b) => (entry.bytes += b.length));
    stream.pipe(res);
    res.on('close', () => stream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    log,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
