/**
 * @file The one honest notice about the embedded pair: on an image that is not one of the bundled samples, while
 * both checkpoints are the embedded miniature models, say what they were trained on (so their answers on a photo are
 * not taken for a real model's) and how to load a real checkpoint. Shown once per image; it can be dismissed.
 */
import { useState } from 'react';
import { useLens } from '../../state/store.ts';

export function PairNotice() {
  const image = useLens((s) => s.image);
  const sampleNames = useLens((s) => s.sampleNames);
  const embedded = useLens((s) => {
    const kind = (id: string) => s.registry.find((r) => r.id === id)?.kind;
    return kind(s.pair.base) === 'embedded' && kind(s.pair.trained) === 'embedded';
  });
  const [dismissed, setDismissed] = useState<string | null>(null);
  if (
    !image ||
    !embedded ||
    sampleNames.length === 0 ||
    sampleNames.includes(image.name) ||
    dismissed === image.dataUrl
  )
    return null;
  return (
    <div className="notice pair-notice" role="note" data-testid="pair-notice">
      <p>
        <strong>The embedded pair knows only synthetic pictures.</strong> SAYO-mini base and SAYO-mini (1.4 M
        parameters) were trained on generated images of coloured shapes — their shapes, colours, sizes and positions —
        so on a photo their answers and attention are not meaningful. To look at a real model, open “Other checkpoint…”
        under a picker above: it takes a model folder or a URL in the model-contract layout (see README, “Adding a real
        checkpoint”).
      </p>
      <button type="button" className="small" onClick={() => setDismissed(image.dataUrl)}>
        Got it
      </button>
    </div>
  );
}
