// Checks prompt cases (question, image, input_ids, image_grid_thw; default fixtures/prompt-cases.json) against
// transformers.js (AutoProcessor + the folder's chat template) for a model folder.
// Usage (from the repo root): node training/tools/prompt_check.mjs [models/sayo-mini] [cases.json]
import fs from 'node:fs';
import path from 'node:path';
import { AutoProcessor, RawImage, env } from '@huggingface/transformers';
env.allowRemoteModels = false;
const root = process.cwd();
const processor = await AutoProcessor.from_pretrained(path.resolve(root, process.argv[2] ?? 'models/sayo-mini'));
const cases = JSON.parse(fs.readFileSync(path.resolve(root, process.argv[3] ?? 'fixtures/prompt-cases.json'), 'utf8'));
let bad = 0;
for (const c of cases) {
  const image = await RawImage.read(path.resolve(root, c.image));
  const text = processor.apply_chat_template(
    [{ role: 'user', content: [{ type: 'image' }, { type: 'text', text: c.question }] }],
    { add_generation_prompt: true },
  );
  const inp = await processor(text, image);
  const ids = Array.from(inp.input_ids.data, Number);
  const thw = Array.from(inp.image_grid_thw.data, Number);
  if (JSON.stringify(ids) !== JSON.stringify(c.input_ids) || JSON.stringify(thw) !== JSON.stringify(c.image_grid_thw)) {
    bad++;
    console.log('MISMATCH', JSON.stringify(c.question), c.image);
  }
}
console.log(`${cases.length} cases, ${bad} mismatches`);
process.exit(bad ? 1 : 0);
