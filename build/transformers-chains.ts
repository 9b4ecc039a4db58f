/**
 * @file A Vite / Rolldown plugin that keeps one failed ONNX session from poisoning every later one in the browser.
 *
 * transformers.js (web build) serialises session creation and session runs through two module-level promise chains:
 * `webInitChain = webInitChain.then(load)` and `webInferenceChain = webInferenceChain.then(run)`. When one `load`
 * rejects (a corrupt model: "protobuf parsing failed"), the chain itself stays rejected, so every later `.then(load)`
 * skips `load` and rejects with the same error: the embedded pair and good URLs then fail as "corrupt" until a reload.
 * The rewrite runs the next step after a failure too (`.then(load, load)`): each caller still gets its own result,
 * and the order is kept. The build fails if the code it fixes is not found (a transformers.js upgrade is then checked
 * by hand instead of silently losing the fix).
 */
import type { Plugin } from 'vite';

/** The two chained calls and their rewrites. */
const REWRITES: Array<[RegExp, string]> = [
  [/webInitChain\s*=\s*webInitChain\.then\(load\)/g, 'webInitChain = webInitChain.then(load, load)'],
  [/webInferenceChain\s*=\s*webInferenceChain\.then\(run\)/g, 'webInferenceChain = webInferenceChain.then(run, run)'],
];

/** The transformers.js bundles that carry the chains (web, plus the generic one). */
const TARGET = /@huggingface[\\/]transformers[\\/]dist[\\/]transformers(\.web)?(\.min)?\.m?js$/;

/** Rewrites the chains in `code`; throws when either is missing from a bundle that declares it. */
export function fixChains(code: string, id = 'transformers.js'): string {
  let out = code;
  for (const [pattern, replacement] of REWRITES) {
    const name = replacement.split(' ')[0];
    if (!out.includes(`var ${name}`) && !out.includes(`let ${name}`)) continue;
    const before = out;
    out = out.replace(pattern, replacement);
    if (out === before)
      throw new Error(
        `${id}: ${name} is declared but its chained call was not found; re-check the fix in build/transformers-chains.ts`,
      );
  }
  return out;
}

/** The plugin for Vite's build and dev transform pipeline. */
export function transformersChains(): Plugin {
  return {
    name: 'sayo-transformers-chains',
    enforce: 'pre',
    transform(code, id) {
      if (!TARGET.test(id.split('?')[0])) return null;
      return { code: fixChains(code, id), map: null };
    },
  };
}
