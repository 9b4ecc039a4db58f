// Runs ONNX graphs in onnxruntime-node for the trainer's export check.
// Usage: node ort_check.mjs <manifest.json>
// manifest: [{graph, outdir, feeds: [{name, type: "float32"|"int64", dims, file}]}]; each output is written to
// <outdir>/<name>.bin (little-endian raw) and <outdir>/outputs.json lists {name, type, dims} in graph order.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
// The repository's node_modules, or another one named by SAYO_NODE_MODULES (a checkout without its own install).
const roots = [
  process.env.SAYO_NODE_MODULES,
  path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../node_modules'),
].filter(Boolean);
let ort = null;
for (const r of roots) {
  try {
    ort = require(path.join(r, 'onnxruntime-node'));
    break;
  } catch {
    /* next */
  }
}
if (!ort) {
  console.error('onnxruntime-node not found in ' + roots.join(', '));
  process.exit(3);
}

const runs = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
for (const run of runs) {
  const session = await ort.InferenceSession.create(run.graph, { graphOptimizationLevel: 'disabled' });
  const feeds = {};
  for (const f of run.feeds) {
    const buf = fs.readFileSync(f.file);
    const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
    const data = f.type === 'int64' ? new BigInt64Array(ab) : new Float32Array(ab);
    feeds[f.name] = new ort.Tensor(f.type, data, f.dims);
  }
  const out = await session.run(feeds);
  fs.mkdirSync(run.outdir, { recursive: true });
  const meta = [];
  for (const name of session.outputNames) {
    const t = out[name];
    fs.writeFileSync(
      path.join(run.outdir, name + '.bin'),
      Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength),
    );
    meta.push({ name, type: t.type, dims: t.dims });
  }
  fs.writeFileSync(
    path.join(run.outdir, 'outputs.json'),
    JSON.stringify({ outputs: meta, inputs: session.inputNames }),
  );
}
