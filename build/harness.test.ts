/**
 * @file The e2e harness page (e2e-harness.html, window.sayoHarness) is built only in the test mode: the config Vite
 * resolves for `vite build` has the app alone as its input, the one for `vite build --mode e2e` adds the harness.
 */
import { describe, expect, it } from 'vitest';
import config, { HARNESS_MODE } from '../vite.config.ts';

type Input = Record<string, string>;

async function inputOf(mode: string): Promise<Input> {
  const resolved =
    typeof config === 'function'
      ? await config({ mode, command: 'build', isSsrBuild: false, isPreview: false })
      : config;
  return (resolved.build?.rolldownOptions?.input ?? {}) as Input;
}

describe('build inputs', () => {
  it('a production build has the app only, no harness page', async () => {
    const input = await inputOf('production');
    expect(Object.keys(input)).toEqual(['main']);
    expect(Object.values(input).some((f) => f.endsWith('e2e-harness.html'))).toBe(false);
  });

  it(`the test build (--mode ${HARNESS_MODE}) adds the harness page`, async () => {
    const input = await inputOf(HARNESS_MODE);
    expect(Object.keys(input).sort()).toEqual(['harness', 'main']);
    expect(input.harness.endsWith('e2e-harness.html')).toBe(true);
  });
});
