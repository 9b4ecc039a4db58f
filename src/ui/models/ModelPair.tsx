/**
 * @file The checkpoint pair: one picker per side (any two registry entries) with its load status — per-file
 * download progress, the backend in use and why, or the load error.
 */
import { useLens } from '../../state/store';
import { loadFraction, type BackendChoice, type ModelStatus } from '../../state/slices/models';
import type { Side } from '../../session/types';
import { AddCheckpoint } from './AddCheckpoint';

const LABEL: Record<Side, string> = { base: 'Base checkpoint', trained: 'Trained checkpoint' };

function StatusLine({ status, side }: { status: ModelStatus; side: Side }) {
  const frac = loadFraction(status);
  if (status.state === 'loading') {
    return (
      <div className="model-status" data-testid={`model-status-${side}`} data-state="loading">
        <progress max={1} value={frac ?? undefined} aria-label={`${LABEL[side]} download`} />
        <ul className="files">
          {Object.values(status.files).map((f) => (
            <li key={f.file}>
              {f.file}: {(f.loaded / 1e6).toFixed(1)} / {(f.total / 1e6).toFixed(1)} MB{f.done ? ' ✓' : ''}
            </li>
          ))}
        </ul>
      </div>
    );
  }
  if (status.state === 'ready' && status.info) {
    const i = status.info;
    return (
      <div className="model-status" data-testid={`model-status-${side}`} data-state="ready" data-backend={i.backend}>
        <span className="badge">{i.backend.toUpperCase()}</span> {i.backendReason}
        {i.attentionNote ? <p className="notice">{i.attentionNote}</p> : null}
      </div>
    );
  }
  if (status.state === 'error') {
    return <div className="model-status" data-testid={`model-status-${side}`} data-state="error">not loaded</div>;
  }
  return <div className="model-status" data-testid={`model-status-${side}`} data-state="idle">not loaded yet</div>;
}

/** Both pickers. */
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
      <div className="model-pick">
        <label htmlFor="backend">Backend</label>
        <select id="backend" data-testid="backend" value={backend} onChange={(e) => setBackend(e.currentTarget.value as BackendChoice)}>
          <option value="auto">auto (WebGPU if available)</option>
          <option value="webgpu">WebGPU</option>
          <option value="wasm">WASM</option>
        </select>
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
