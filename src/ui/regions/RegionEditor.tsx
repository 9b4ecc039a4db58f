/**
 * @file The region editor: an SVG layer in original-image pixels over a heatmap or the image. Mouse: drag on empty
 * space draws a box (replacing the regions or adding one, as the region list's mode says), drag a box moves it, drag its corner handle resizes it. Keyboard (when focused): N adds a box,
 * [ / ] select the previous / next box, arrows move it (Shift ×10), Alt+arrows resize it, Delete removes it,
 * Escape deselects. Boxes live in the store, so every panel shows the same regions and the reward recomputes live.
 */
import { useRef, useState, type KeyboardEvent, type PointerEvent } from 'react';
import type { Box } from '../../core/geometry.ts';
import { moveBox, normalizeBox, resizeBox } from '../../state/slices/input.ts';
import { useLens } from '../../state/store.ts';

type Drag =
  | { kind: 'draw'; x: number; y: number }
  | { kind: 'move'; index: number; x: number; y: number; box: Box }
  | { kind: 'resize'; index: number; x: number; y: number; box: Box };

/** Smallest box side the mouse creates, in image pixels. */
const MIN_SIDE = 2;

/** Pointer position in image pixels. */
function toImage(e: PointerEvent<SVGSVGElement>, svg: SVGSVGElement, image: { width: number; height: number }) {
  const r = svg.getBoundingClientRect();
  return {
    x: Math.min(image.width, Math.max(0, ((e.clientX - r.left) / r.width) * image.width)),
    y: Math.min(image.height, Math.max(0, ((e.clientY - r.top) / r.height) * image.height)),
  };
}

/** The editor over one panel; `testId` names the layer for tests. */
export function RegionEditor({ image, testId }: { image: { width: number; height: number }; testId: string }) {
  const svg = useRef<SVGSVGElement>(null);
  const [drag, setDrag] = useState<Drag | null>(null);
  const [draft, setDraft] = useState<Box | null>(null);
  const boxes = useLens((s) => s.boxes);
  const selected = useLens((s) => s.selectedBox);
  const { addBox, drawBox, updateBox, deleteBox, selectBox } = useLens.getState();
  const step = Math.max(1, Math.round(Math.max(image.width, image.height) / 100));
  const handle = Math.max(4, Math.max(image.width, image.height) / 40);

  const onDown = (e: PointerEvent<SVGSVGElement>) => {
    if (!svg.current || e.button !== 0) return;
    const p = toImage(e, svg.current, image);
    const target = e.target as Element;
    const index = Number(target.getAttribute('data-index'));
    svg.current.setPointerCapture?.(e.pointerId);
    if (target.getAttribute('data-role') === 'handle') setDrag({ kind: 'resize', index, ...p, box: boxes[index] });
    else if (target.getAttribute('data-role') === 'box') {
      selectBox(index);
      setDrag({ kind: 'move', index, ...p, box: boxes[index] });
    } else setDrag({ kind: 'draw', ...p });
  };
  const onMove = (e: PointerEvent<SVGSVGElement>) => {
    if (!drag || !svg.current) return;
    const p = toImage(e, svg.current, image);
    if (drag.kind === 'draw') setDraft(normalizeBox([drag.x, drag.y, p.x, p.y], image));
    else if (drag.kind === 'move') updateBox(drag.index, moveBox(drag.box, p.x - drag.x, p.y - drag.y, image));
    else updateBox(drag.index, resizeBox(drag.box, p.x - drag.x, p.y - drag.y, image));
  };
  const onUp = () => {
    if (drag?.kind === 'draw' && draft && draft[2] - draft[0] >= MIN_SIDE && draft[3] - draft[1] >= MIN_SIDE) {
      drawBox(draft.map(Math.round) as Box);
    }
    setDrag(null);
    setDraft(null);
  };
  const onKey = (e: KeyboardEvent<SVGSVGElement>) => {
    const k = e.key;
    const sel = selected !== null && boxes[selected] ? selected : null;
    const mult = e.shiftKey ? 10 : 1;
    const arrows: Record<string, [number, number]> = {
      ArrowLeft: [-1, 0],
      ArrowRight: [1, 0],
      ArrowUp: [0, -1],
      ArrowDown: [0, 1],
    };
    if (k === 'n' || k === 'N') {
      const w = Math.round(image.width / 4);
      const h = Math.round(image.height / 4);
      addBox([
        Math.round(image.width / 2 - w / 2),
        Math.round(image.height / 2 - h / 2),
        Math.round(image.width / 2 + w / 2),
        Math.round(image.height / 2 + h / 2),
      ]);
    } else if ((k === ']' || k === '[') && boxes.length) {
      const d = k === ']' ? 1 : -1;
      selectBox(sel === null ? (d > 0 ? 0 : boxes.length - 1) : (sel + d + boxes.length) % boxes.length);
    } else if (k === 'Escape') selectBox(null);
    else if ((k === 'Delete' || k === 'Backspace') && sel !== null) deleteBox(sel);
    else if (arrows[k] && sel !== null) {
      const [dx, dy] = arrows[k].map((v) => v * step * mult);
      updateBox(sel, e.altKey ? resizeBox(boxes[sel], dx, dy, image) : moveBox(boxes[sel], dx, dy, image));
    } else return;
    e.preventDefault();
  };
  const described = boxes.length
    ? `${boxes.length} region${boxes.length > 1 ? 's' : ''}${selected !== null ? `, region ${selected + 1} selected` : ''}`
    : 'no region';
  return (
    <svg
      ref={svg}
      className="region-layer"
      data-testid={testId}
      data-boxes={JSON.stringify(boxes)}
      viewBox={`0 0 ${image.width} ${image.height}`}
      preserveAspectRatio="none"
      tabIndex={0}
      role="application"
      aria-label={`Key regions (${described}). Drag to draw; N adds a box, [ and ] select, arrows move, Alt+arrows resize, Delete removes.`}
      onPointerDown={onDown}
      onPointerMove={onMove}
      onPointerUp={onUp}
      onPointerCancel={onUp}
      onKeyDown={onKey}
    >
      {boxes.map((b, i) => (
        <g key={i} className={i === selected ? 'box selected' : 'box'}>
          <rect
            data-role="box"
            data-index={i}
            x={b[0]}
            y={b[1]}
            width={b[2] - b[0]}
            height={b[3] - b[1]}
            vectorEffect="non-scaling-stroke"
          />
          {i === selected ? (
            <rect
              data-role="handle"
              data-index={i}
              className="handle"
              x={b[2] - handle / 2}
              y={b[3] - handle / 2}
              width={handle}
              height={handle}
            />
          ) : null}
        </g>
      ))}
      {draft ? (
        <rect
          className="draft"
          x={draft[0]}
          y={draft[1]}
          width={draft[2] - draft[0]}
          height={draft[3] - draft[1]}
          vectorEffect="non-scaling-stroke"
        />
      ) : null}
    </svg>
  );
}
