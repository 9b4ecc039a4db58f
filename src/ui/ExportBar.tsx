/**
 * @file Export and import: a PNG of one panel (image + heatmap + boxes + legend), the session as JSON, and import of
 * a session JSON to view it again with no model loaded. Failures show a message and change nothing on screen.
 */
import { useState } from 'react';
import { buildSession, applySession } from '../state/session.ts';
import { useLens } from '../state/store.ts';
import { parseSession, serializeSession } from '../session/serialize.ts';
import type { Side } from '../session/types.ts';
import { exportCurrentPng } from './export/png.ts';

/** Saves a blob as a download. */
export function download(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** Reads a session file and loads it (or reports why not, keeping the current session). */
export async function importSessionFile(file: Blob): Promise<boolean> {
  try {
    const session = parseSession(await file.text());
    applySession(useLens, session);
    useLens.getState().clearError('session');
    return true;
  } catch (e) {
    useLens.getState().setError('session', `That session file cannot be opened: ${(e as Error).message}`);
    return false;
  }
}

/** The export / import bar. */
export function ExportBar() {
  const hasPanels = useLens(
    (s) => !!(s.runs.base.panel || s.runs.trained.panel || s.cross.base.panel || s.cross.trained.panel),
  );
  const hasImage = useLens((s) => !!s.image);
  const [side, setSide] = useState<Side>('base');
  const stamp = () => new Date().toISOString().replace(/[:.]/g, '-');
  return (
    <div className="export" role="group" aria-label="Export and import">
      <label>
        Panel
        <select value={side} onChange={(e) => setSide(e.currentTarget.value as Side)}>
          <option value="base">base</option>
          <option value="trained">trained</option>
        </select>
      </label>
      <button
        type="button"
        data-testid="export-png"
        disabled={!hasPanels}
        onClick={() =>
          void exportCurrentPng(side).then(
            (blob) => blob && download(blob, `sayo-lens-${side}-${stamp()}.png`),
            (e: Error) => useLens.getState().setError('export', `PNG export failed: ${e.message}`),
          )
        }
      >
        Export PNG
      </button>
      <button
        type="button"
        data-testid="export-json"
        disabled={!hasImage}
        onClick={() => {
          const session = buildSession(useLens.getState());
          if (session)
            download(
              new Blob([serializeSession(session)], { type: 'application/json' }),
              `sayo-lens-session-${stamp()}.json`,
            );
        }}
      >
        Export session JSON
      </button>
      <label className="file-label">
        Import session JSON
        <input
          type="file"
          accept="application/json,.json"
          data-testid="import-json"
          onChange={(e) => {
            const f = e.currentTarget.files?.[0];
            e.currentTarget.value = '';
            if (f) void importSessionFile(f);
          }}
        />
      </label>
    </div>
  );
}
