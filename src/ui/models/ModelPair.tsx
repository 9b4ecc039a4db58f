/**
 * @file The backend menu and the checkpoint pair: one picker per side (any two registry entries) with its load
 * status in a box of fixed height (no layout jump when loading ends) — a progress bar and per-file lines while
 * loading, the backend in use (with ONNX Runtime's thread count on CPU / WASM) and why once ready, the error with a
 * one-click Retry when the load failed.
 */
import { useLens } from '../../state/store.ts';
import { loadFraction, type BackendChoice, type ModelStatus } from '../../state/slices/models.ts';
import type { FileProgress } from '../../engine/types.ts';
import type { Side } from '../../session/types.ts';
import { useCommands } from '../commands.tsx';
import { AddCheckpoint } from './AddCheckpoint.tsx';

/** What a load still does once every file has arrived (until the checkpoint is ready). */
export const AFTER_FILES = 'creating the ONNX Runtime sessions (starting the runtime, preparing the graphs for this backend)…';

const LABEL: Record<Side, string> = { base: 'Base checkpoint', trained: 'Trained checkpoint' };

/** Bytes in MB, or kB below 0.1 MB (so a small file never reads "0.0 MB"). */
const size = (bytes: number) => (bytes >= 1e5 ? `${(bytes / 1e6).toFixed(1)} MB` : `${(bytes / 1e3).toFixed(1)} kB`);
const unit = (bytes: number) => (bytes >= 1e5 ? 'MB' : 'kB');
const num = (bytes: number, u: string) => (u === 'MB' ? (bytes / 1e6).toFixed(1) : (bytes / 1e3).toFixed(1));

/** One file's line: bytes when the server told the size, else what arrived so far (never "0.0 / 0.0 MB"). */
export function fileLine(f: FileProgress): string {
  const u = unit(f.total);
  const text = f.total > 0 ? `${num(Math.min(f.loaded, f.total), u)} / ${num(f.total, u)} ${u}` : f.loaded > 0 ? size(f.loaded) : f.done ? 'from cache' : 'waiting';
  return `${f.file}: ${text}${f.done ? ' ✓' : ''}`;
}

function StatusLine({ status, side }: { status: ModelStatus; side: Side }) {
  const commands = useCommands();
  const frac = loadFraction(status);
  if (status.state === 'loading') {
    const files = Object.values(status.files);
    const done = files.filter((f) => f.done).length;
    // One line on screen (the box keeps the ready line's height): the bar, the count and the file arriving now;
    // every file's line stays in the list for screen readers.
    const current = files.find((f) => !f.done) ?? files.at(-1);
    return (
      <div className="model-status" data-testid={`model-status-${side}`} data-state="loading">
        <div className="load-head">
          <progress max={1} value={frac ?? undefined} aria-label={`${LABEL[side]} download`} />
          <span aria-hidden="true">
            {!files.length
              ? 'starting…'
              : done === files.length
                ? `${done} / ${files.length} files ✓ · ${AFTER_FILES}`
                : `${done} / ${files.length} files${current ? ` · ${fileLine(current)}` : ''}`}
          </span>
        </div>
        {files.length && done === files.length ? <p className="sr-only">{AFTER_FILES}</p> : null}
        <ul className="files sr-only">
          {files.map((f) => (
            <li key={f.file}>{fileLine(f)}</li>
          ))}
        </ul>
      </div>
    );
  }
  if (status.state === 'ready' && status.info) {
    const i = status.info;
    return (
      <div className="model-status" data-testid={`model-status-${side}`} data-state="ready" data-backend={i.backend}>
        <span className="badge" data-testid={`backend-badge-${side}`}>
          {i.backend.toUpperCase()}
          {i.threads ? ` · ${i.threads} thread${i.threads > 1 ? 's' : ''}` : ''}
        </span>{' '}
        <span data-testid={`backend-reason-${side}`}>{i.backendReason}</span>
        {i.attentionNote ? <p className="notice">{i.attentionNote}</p> : null}
        {i.architectureNote ? <p className="notice" data-testid={`architecture-note-${side}`}>{i.architectureNote}</p> : null}
        {i.storageNote ? <p className="notice" data-testid={`storage-note-${side}`}>{i.storageNote}</p> : null}
        {i.speedNote ? <p className="notice" data-testid={`speed-note-${side}`}>{i.speedNote}</p> : null}
        {i.threadsNote ? <p className="notice" data-testid={`threads-note-${side}`}>{i.threadsNote}</p> : null}
      </div>
    );
  }
  if (status.state === 'error') {
    return (
      <div className="model-status" data-testid={`model-status-${side}`} data-state="error">
        not loaded{' '}
        <button type="button" data-testid={`retry-${side}`} disabled={!commands} onClick={() => void commands?.retryLoad(side)}>
          Retry
        </button>
      </div>
    );
  }
  return <div className="model-status" data-testid={`model-status-${side}`} data-state="idle">not loaded yet</div>;
}

/** The backend menu and both pickers. */
export function ModelPair() {
  const registry = useLens((s) => s.registry);
  const custom = useLens((s) => s.custom);
  const pair = useLens((s) => s.pair);
  const status = useLens((s) => s.status);
  const setPairModel = useLens((s) => s.setPairModel);
  const backend = useLens((s) => s.backend);
  const setBackend = useLens((s) => s.setBackend);
  return (
    <div className="model-pair">
      <div className="model-pick backend-pick">
        <label htmlFor="backend">Backend</label>
        <select id="backend" data-testid="backend" value={backend} onChange={(e) => setBackend(e.currentTarget.value as BackendChoice)}>
          <option value="auto">auto</option>
          <option value="webgpu">WebGPU</option>
          <option value="wasm">WASM</option>
        </select>
        {/* Said beside the menu, not inside it: a long option is cut with "…" in a narrow select. */}
        <p className="hint backend-hint">auto: WebGPU on a hardware GPU, else WASM</p>
      </div>
      {(['base', 'trained'] as Side[]).map((side) => (
        <div key={side} className="model-pick">
          <label htmlFor={`model-${side}`}>{LABEL[side]}</label>
          <select id={`model-${side}`} data-testid={`model-${side}`} value={pair[side]} onChange={(e) => setPairModel(side, e.currentTarget.value)}>
            {registry.length === 0 && !custom[pair[side]] ? <option value={pair[side]}>{pair[side]}</option> : null}
            {registry.map((r) => (
              <option key={r.id} value={r.id} disabled={r.kind === 'slot'} title={r.description}>
                {r.name}
                {r.kind === 'slot' ? ' (no export yet)' : ''}
              </option>
            ))}
            {Object.entries(custom).map(([id, m]) => (
              <option key={id} value={id}>
                {m.name}
              </option>
            ))}
          </select>
          <AddCheckpoint side={side} />
          <StatusLine status={status[side]} side={side} />
        </div>
      ))}
    </div>
  );
}
