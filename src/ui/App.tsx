/**
 * @file The app layout: header with the checkpoint pair, the input row (image, samples, question, run), errors,
 * view controls, the side-by-side comparison, and export / import.
 */
import { useLens } from '../state/store';
import { Compare } from './compare/Compare';
import { ErrorList } from './ErrorList';
import { ExportBar } from './ExportBar';
import { ImageInput } from './input/ImageInput';
import { QuestionRun } from './input/QuestionRun';
import { SampleGallery } from './input/SampleGallery';
import { ModelPair } from './models/ModelPair';
import { ViewControls } from './ViewControls';

/** The whole app. */
export function App() {
  const image = useLens((s) => s.image);
  const notice = useLens((s) => s.imageNotice);
  return (
    <div className="app">
      <header className="top">
        <h1>SAYO Lens</h1>
        <p className="tagline">Where each generated token looked, scored by the SAYO region reward — base vs trained.</p>
        <ModelPair />
      </header>
      <main>
        <section className="input" aria-label="Input">
          <ImageInput />
          <SampleGallery />
          {image ? (
            <p className="hint" data-testid="image-info">
              {image.name}: {image.width}×{image.height} px
            </p>
          ) : null}
          {notice ? (
            <p className="notice" data-testid="image-notice">
              {notice}
            </p>
          ) : null}
          <QuestionRun />
        </section>
        <ErrorList />
        <ViewControls />
        <Compare />
        <ExportBar />
      </main>
    </div>
  );
}
