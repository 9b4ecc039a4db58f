/**
 * @file Adds a checkpoint to one side of the pair: a folder the user picks (Hugging Face layout: config.json,
 * onnx/…) or the URL of such a folder. Picked files stay in the page; nothing is uploaded.
 */
import { useState } from 'react';
import type { Side } from '../../session/types.ts';
import { useLens } from '../../state/store.ts';

/** Keys of a picked folder's files relative to the folder itself (the top directory name is dropped). */
export function folderFiles(files: ArrayLike<File>): { name: string; files: Record<string, Blob> } {
  const out: Record<string, Blob> = {};
  let name = 'picked folder';
  for (const f of Array.from(files)) {
    const rel = (f as File & { webkitRelativePath?: string }).webkitRelativePath || f.name;
    const parts = rel.split('/');
    if (parts.length > 1) name = parts[0];
    out[parts.length > 1 ? parts.slice(1).join('/') : rel] = f;
  }
  return { name, files: out };
}

/** The folder picker and URL field of one side. */
export function AddCheckpoint({ side }: { side: Side }) {
  const [url, setUrl] = useState('');
  const addCustomModel = useLens((s) => s.addCustomModel);
  const setError = useLens((s) => s.setError);
  return (
    <details className="add-checkpoint">
      <summary>Other checkpoint…</summary>
      <label className="file-label">
        Folder
        <input
          type="file"
          data-testid={`folder-${side}`}
          // @ts-expect-error webkitdirectory is not in React's input typings
          webkitdirectory=""
          multiple
          onChange={(e) => {
            const list = e.currentTarget.files;
            if (!list || list.length === 0) return;
            const { name, files } = folderFiles(list);
            addCustomModel(side, `folder:${name}`, { name: `${name} (folder)`, source: { kind: 'files', files } });
            e.currentTarget.value = '';
          }}
        />
      </label>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          let parsed: URL;
          try {
            parsed = new URL(url.trim());
          } catch {
            setError(`model-${side}`, `“${url}” is not a URL: give the address of a Hugging Face layout folder (…/resolve/main/).`);
            return;
          }
          addCustomModel(side, `url:${parsed.href}`, { name: parsed.href, source: { kind: 'url', url: parsed.href } });
        }}
      >
        <label>
          URL <input value={url} onChange={(e) => setUrl(e.currentTarget.value)} placeholder="https://…/resolve/main/" data-testid={`url-${side}`} />
        </label>
        <button type="submit">Load</button>
      </form>
    </details>
  );
}
