/**
 * @file Steps of the app that several UI suites take: both models ready, a sample picked, a run to its end.
 */
import fs from 'node:fs';
import { expect, type Page } from '@playwright/test';

export interface Sample {
  id: string;
  image: string;
  question: string;
  boxes: number[][];
}

/** The sample gallery the app serves (public/samples). */
export const SAMPLES = JSON.parse(fs.readFileSync('public/samples/samples.json', 'utf8')) as Sample[];
export const SIDES = ['base', 'trained'] as const;

/** Both panels' models loaded (on `backend` when given). */
export async function ready(page: Page, backend?: 'wasm' | 'webgpu'): Promise<void> {
  for (const side of SIDES) {
    await expect(page.getByTestId(`model-status-${side}`)).toHaveAttribute('data-state', 'ready', { timeout: 120_000 });
    if (backend) await expect(page.getByTestId(`model-status-${side}`)).toHaveAttribute('data-backend', backend);
  }
}

/** A sample picked from the gallery: its image shown and its question in the box. */
export async function pick(page: Page, sample: Sample = SAMPLES[0]): Promise<void> {
  await page.getByTestId(`sample-${sample.id}`).click();
  await expect(page.getByTestId('image-info')).toContainText(sample.image);
  await expect(page.getByTestId('question-input')).toHaveValue(sample.question);
}

/** Run, and wait until both panels are done. */
export async function runDone(page: Page): Promise<void> {
  await page.getByTestId('run-button').click();
  for (const side of SIDES) await expect(page.getByTestId(`status-${side}`)).toHaveText(/^done/, { timeout: 180_000 });
}
