/**
 * @file The sample gallery: images from public/samples/samples.json with their question and key regions.
 * Picking one loads all three (the answer is shown as the reference).
 */
import { useEffect, useState } from 'react';
import type { Box } from '../../core/geometry.ts';
import { useLens } from '../../state/store.ts';
import { acceptImageFile } from './ImageInput.tsx';

/** One entry of samples.json. */
export interface Sample {
  id: string;
  image: string;
  question: string;
  answer: string;
  boxes: Box[];
}

/** Where the gallery is read from (relative to the page). */
export const SAMPLES_URL = 'samples/samples.json';

/** Loads a sample's image, question and boxes into the store. */
export async function pickSample(sample: Sample, listUrl: string): Promise<void> {
  const url = new URL(sample.image, new URL(listUrl, document.baseURI)).href;
  const res = await fetch(url);
  if (!res.ok) {
    useLens.getState().setError('image', `Sample “${sample.id}” could not be fetched (${res.status}).`);
    return;
  }
  const ok = await acceptImageFile(await res.blob(), sample.image.split('/').pop() ?? sample.id);
  if (!ok) return;
  const s = useLens.getState();
  s.setQuestion(sample.question, true);
  s.setBoxes(sample.boxes.map((b) => [...b] as Box));
  s.clearError('question');
}

/** Thumbnails of the bundled samples. */
export function SampleGallery({ url = SAMPLES_URL }: { url?: string }) {
  const [samples, setSamples] = useState<Sample[] | null>(null);
  const [failed, setFailed] = useState<string | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    fetch(url)
      .then((r) => (r.ok ? r.json() : Promise.reject(new Error(`HTTP ${r.status}`))))
      .then((list: Sample[]) => {
        if (!live) return;
        setSamples(list);
        useLens.getState().setSampleNames(list.map((x) => x.image.split('/').pop() ?? x.id));
      })
      .catch((e: Error) => live && setFailed(e.message));
    return () => {
      live = false;
    };
  }, [url]);
  if (failed) return <p className="hint">No sample gallery ({failed}).</p>;
  if (!samples) return <p className="hint">Loading samples…</p>;
  const base = new URL(url, document.baseURI);
  return (
    <div className="gallery" role="group" aria-label="Samples">
      {samples.map((s) => (
        <button
          key={s.id}
          type="button"
          className="sample"
          data-testid={`sample-${s.id}`}
          title={`${s.question} (answer: ${s.answer})`}
          aria-label={`Sample ${s.id}: ${s.question}`}
          disabled={busy !== null}
          onClick={() => {
            setBusy(s.id);
            void pickSample(s, url).finally(() => setBusy(null));
          }}
        >
          <img src={new URL(s.image, base).href} alt="" width={56} height={56} />
        </button>
      ))}
    </div>
  );
}
