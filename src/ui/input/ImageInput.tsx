/**
 * @file Image input: file picker (`image-input`), drag-and-drop onto the drop zone, and paste anywhere on the page.
 * A failed load shows a message and keeps the image already on screen.
 */
import { useCallback, useEffect, useState, type DragEvent } from 'react';
import { useLens } from '../../state/store.ts';
import { ImageInputError, loadImageFile, DEFAULT_PROCESSOR } from './loadImage.ts';

/** Loads a file into the store, or shows why it cannot be used (the current image stays). */
export async function acceptImageFile(file: Blob, name: string): Promise<boolean> {
  const s = useLens.getState();
  const proc = s.status.base.info?.processor ?? s.status.trained.info?.processor ?? DEFAULT_PROCESSOR;
  try {
    const { image, notice } = await loadImageFile(file, name, proc);
    useLens.getState().setImage(image, notice);
    useLens.getState().clearError('image');
    return true;
  } catch (e) {
    const msg = e instanceof ImageInputError ? e.message : `“${name}” could not be loaded: ${(e as Error).message}`;
    useLens.getState().setError('image', msg);
    return false;
  }
}

/** The picker, drop zone and paste handler. */
export function ImageInput() {
  const [over, setOver] = useState(false);
  const onFiles = useCallback((files: FileList | null) => {
    const f = files?.[0];
    if (f) void acceptImageFile(f, f.name);
  }, []);
  useEffect(() => {
    const onPaste = (e: ClipboardEvent) => {
      const item = [...(e.clipboardData?.items ?? [])].find((i) => i.kind === 'file');
      const f = item?.getAsFile();
      if (f) {
        e.preventDefault();
        void acceptImageFile(f, f.name || 'pasted image');
      }
    };
    window.addEventListener('paste', onPaste);
    return () => window.removeEventListener('paste', onPaste);
  }, []);
  const onDrop = (e: DragEvent) => {
    e.preventDefault();
    setOver(false);
    onFiles(e.dataTransfer.files);
  };
  return (
    <div
      className={`dropzone${over ? ' over' : ''}`}
      onDragOver={(e) => {
        e.preventDefault();
        setOver(true);
      }}
      onDragLeave={() => setOver(false)}
      onDrop={onDrop}
    >
      <label className="file-label">
        Image
        <input
          type="file"
          accept="image/*"
          data-testid="image-input"
          onChange={(e) => {
            onFiles(e.currentTarget.files);
            e.currentTarget.value = '';
          }}
        />
      </label>
      <span className="hint">or drop an image here, or paste one (Ctrl+V)</span>
    </div>
  );
}
