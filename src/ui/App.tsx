/**
 * @file The app layout: header with the backend and the checkpoint pair, the input (image, samples, question, run,
 * the key-region list and notices), errors, view controls, the "What is r_v?" explainer, the side-by-side
 * comparison, and export / import. One column on a phone, wider panels on a wide screen, never a horizontal scroll.
 */
import { useLens } from '../state/store.ts';
import { Compare } from './compare/Compare.tsx';
import { ErrorList } from './ErrorList.tsx';
import { ExportBar } from './ExportBar.tsx';
import { ImageInput } from './input/ImageInput.tsx';
import { PairNotice } from './input/PairNotice.tsx';
import { QuestionRun } from './input/QuestionRun.tsx';
import { SampleGallery } from './input/SampleGallery.tsx';
import { ModelPair } from './models/ModelPair.tsx';
import { RewardExplainer } from './panel/RewardExplainer.tsx';
import { RegionList } from './regions/RegionList.tsx';
import { ViewControls } from './ViewControls.tsx';

/** The whole app. */
export function App() {
  const image = useLens((s) => s.image);
  const notice = useLens((s) => s.imageNotice);
  return (
    <div className="app">
      <header className="top">
        <h1>SAYO Lens</h1>
        <p className="tagline">
          Where each generated token looked, scored by the SAYO region reward — base vs trained.
        </p>
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
          <PairNotice />
          <QuestionRun />
          <RegionList />
        </section>
        <ErrorList />
        <ViewControls />
        <RewardExplainer />
        <Compare />
        <ExportBar />
      </main>
    </div>
  );
}
