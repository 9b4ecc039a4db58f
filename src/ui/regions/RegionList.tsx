/**
 * @file The visible list of key regions: each box in whole image pixels, click to select it (the editor then moves
 * and resizes it), ✕ to delete it, "Clear all", and what drawing a new box does (replace the regions or add one).
 */
import { useLens } from '../../state/store.ts';

export function RegionList() {
  const boxes = useLens((s) => s.boxes);
  const selected = useLens((s) => s.selectedBox);
  const mode = useLens((s) => s.drawMode);
  const image = useLens((s) => s.image);
  const { selectBox, deleteBox, clearBoxes, setDrawMode } = useLens.getState();
  if (!image) return null;
  return (
    <section className="regions" aria-label="Key regions" data-testid="region-list">
      <h2>Key regions</h2>
      {boxes.length ? (
        <ol>
          {boxes.map((b, i) => (
            <li key={i} className={i === selected ? 'selected' : undefined} data-testid={`region-${i}`}>
              <button
                type="button"
                className="region-pick"
                aria-pressed={i === selected}
                onClick={() => selectBox(i === selected ? null : i)}
              >
                #{i + 1} x {b[0]}–{b[2]}, y {b[1]}–{b[3]} ({b[2] - b[0]}×{b[3] - b[1]} px)
              </button>
              <button
                type="button"
                className="small"
                aria-label={`Delete region ${i + 1}`}
                data-testid={`region-delete-${i}`}
                onClick={() => deleteBox(i)}
              >
                ✕
              </button>
            </li>
          ))}
        </ol>
      ) : (
        <p className="hint">No region: drag on the image to draw one (the reward needs a region).</p>
      )}
      <div className="region-actions">
        <button type="button" data-testid="region-clear" disabled={!boxes.length} onClick={() => clearBoxes()}>
          Clear all
        </button>
        <label>
          Drawing a box{' '}
          <select
            data-testid="draw-mode"
            value={mode}
            onChange={(e) => setDrawMode(e.currentTarget.value as 'replace' | 'add')}
          >
            <option value="replace">replaces the regions</option>
            <option value="add">adds a region</option>
          </select>
        </label>
      </div>
    </section>
  );
}
