/**
 * @file A hostile model server on loopback for the fault suite, started and stopped by the tests: paths that stall,
 * drip then stall, stream endless bytes as fast as the socket takes them, drip forever, declare a huge body, serve
 * corrupt JSON, redirect in a loop or to file:, and one good config.json behind a redirect. Every timer and socket
 * is closed by `close()`; `served` counts the bytes each path sent.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** A running fault server. */
export interface FaultServer {
  url: string;
  served: Map<string, number>;
  close(): Promise<void>;
}

/** Starts the server on 127.0.0.1 (a free port). `good` is the body of /ok/config.json. */
export async function startFaultServer(good: string): Promise<FaultServer> {
  const sockets = new Set<Socket>();
  const timers = new Set<ReturnType<typeof setInterval>>();
  const served = new Map<string, number>();
  const count = (kind: string, n: number) => served.set(kind, (served.get(kind) ?? 0) + n);
  const chunk = Buffer.alloc(64 * 1024, 0x20);
  const server = http.createServer((req, res) => {
    const [, kind = '', file = ''] = (req.url ?? '').split('/');
    switch (kind) {
      case 'stall':
        return;
      case 'drip-stall':
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.write('{"model_type": ');
        return;
      case 'endless': {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        const pump = () => {
          while (!res.destroyed && res.write(chunk)) count(kind, chunk.length);
          if (!res.destroyed) count(kind, chunk.length);
        };
        res.on('drain', pump);
        pump();
        return;
      }
      case 'drip-forever': {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        const t = setInterval(() => (res.write(' '), count(kind, 1)), 20);
        timers.add(t);
        res.on('close', () => clearInterval(t));
        return;
      }
      case 'huge':
        res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': String(10 * 1024 ** 3) });
        res.write('{');
        return;
      case 'corrupt':
        res.writeHead(200, { 'Content-Type': 'application/json' });
        return res.end(Buffer.from([0x7b, 0xff, 0xfe, 0x00, 0x22, 0x5c]));
      case 'loop':
        res.writeHead(302, { Location: `/loop/${file}` });
        return res.end();
      case 'to-file':
        res.writeHead(302, { Location: 'file:///etc/passwd' });
        return res.end();
      case 'moved':
        res.writeHead(301, { Location: `/ok/${file}` });
        return res.end();
      case 'ok':
        if (file === 'config.json') {
          res.writeHead(200, { 'Content-Type': 'application/json' });
          return res.end(good);
        }
    }
    res.writeHead(404).end();
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    served,
    async close() {
      for (const t of timers) clearInterval(t);
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
