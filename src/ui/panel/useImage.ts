/**
 * @file Decodes the current image's data URL into an HTMLImageElement once, for drawing under heatmaps.
 */
import { useEffect, useState } from 'react';

/** The decoded image, or null while decoding (or without an image). */
export function useImageElement(dataUrl: string | null | undefined): HTMLImageElement | null {
  const [img, setImg] = useState<HTMLImageElement | null>(null);
  useEffect(() => {
    if (!dataUrl) {
      setImg(null);
      return;
    }
    let live = true;
    const el = new Image();
    el.onload = () => live && setImg(el);
    el.src = dataUrl;
    return () => {
      live = false;
    };
  }, [dataUrl]);
  return img;
}
