/**
 * A picked folder's files are keyed relative to the folder (what the engine's 'files' source expects).
 */
import { expect, it } from 'vitest';
import { folderFiles } from './AddCheckpoint.tsx';

const file = (rel: string) => Object.assign(new File(['x'], rel.split('/').pop()!), { webkitRelativePath: rel });

it('drops the top directory and keeps the layout below it', () => {
  const { name, files } = folderFiles([file('my-model/config.json'), file('my-model/onnx/decoder_model_merged.onnx')]);
  expect(name).toBe('my-model');
  expect(Object.keys(files).sort()).toEqual(['config.json', 'onnx/decoder_model_merged.onnx']);
});
