/**
 * @file The app as the benchmarks drive it: built with the e2e harness page (`vite build --mode e2e`) into a scratch
 * folder of its own and served by `vite preview` on one port.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '../..');

/** Builds the app into node_modules/.cache/sayo-bench-dist-<port> and previews it; `stop` ends the server. */
export async function startApp(port: number): Promise<{ url: string; stop: () => void }> {
  const outDir = path.join(ROOT, `node_modules/.cache/sayo-bench-dist-${port}`);
  const build = spawnSync('npx', ['vite', 'build', '--mode', 'e2e', '--outDir', outDir, '--emptyOutDir'], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  if (build.status !== 0) throw new Error(`vite build failed:\n${build.stderr}`);
  const server: ChildProcess = spawn(
    'npx',
    ['vite', 'preview', '--host', '127.0.0.1', '--port', String(port), '--strictPort', '--outDir', outDir],
    {
      cwd: ROOT,
      stdio: 'ignore',
      detached: true,
    },
  );
  const url = `http://127.0.0.1:${port}`;
  const stop = () => {
    try {
      if (server.pid) process.kill(-server.pid);
    } catch {
      // already gone
    }
  };
  const end = Date.now() + 60_000;
  for (;;) {
    // Fetch (Node's, and Chromium's) refuses the ports of the Fetch standard's "bad port" list (e.g. 4190): say so at once.
    const up = await fetch(`${url}/e2e-harness.html`).then(
      (r) => r.ok,
      (e: Error & { cause?: Error }) => ((e.cause ?? e).message === 'bad port' ? 'bad port' : false),
    );
    if (up === true) break;
    if (up === 'bad port' || Date.now() > end) {
      stop();
      throw new Error(
        up === 'bad port'
          ? `--app-port ${port}: browsers refuse this port (a "bad port" of the Fetch standard); pick another`
          : `${url} did not come up within 60 s`,
      );
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return { url, stop };
}
