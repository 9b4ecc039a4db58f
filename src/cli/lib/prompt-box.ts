/**
 * @file What `sayo ask` does to a model folder's chat template and tokenizer before anything else — render one image
 * turn with the question and tokenize it — run in a child process under a time and memory budget (PROMPT_LIMITS),
 * killed when it runs over. A folder comes from strangers: its Jinja template may loop for ever or build gigabytes
 * (`range(100000000)`), its pre-tokenizer regex may backtrack catastrophically (`(a+)+$`). `sayo inspect` runs the
 * same box, so an inspect pass means ask gets past this point.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import fs from 'node:fs';
import path from 'node:path';
import { DOWNLOAD_LIMITS, PROMPT_LIMITS } from '../../core/limits.ts';
import { LocalFileError, readRegularFile } from '../../engine/local-file.ts';
import { CliError, messageOf } from './errors.ts';

/** What the box returns: the rendered prompt (cut at 4,096 characters) and its token counts, or why it failed. */
export type BoxedPrompt =
  | { ok: true; rendered: string; renderedChars: number; tokens: number; pads: number }
  | { ok: false; stage: 'tokenizer' | 'template' | 'tokenization'; reason: string };

/** The input: tokenizer.json and tokenizer_config.json (parsed), an optional chat_template.jinja, the question. */
export interface PromptInput {
  tokenizer: Record<string, unknown>;
  tokConfig: Record<string, unknown>;
  jinja: string | null;
  question: string;
  imagePadId: number | undefined;
}

const STAGE_NAMES = {
  tokenizer: 'building the tokenizer',
  template: 'rendering the chat template',
  tokenization: 'tokenizing the prompt',
} as const;

/** A one-line description of a failed box, naming the stage. */
export function boxFailure(r: Extract<BoxedPrompt, { ok: false }>): string {
  return `${STAGE_NAMES[r.stage]} ${r.reason}`;
}

/** Runs the prompt in a child process; never throws, never outlives `timeoutMs`. */
export function boxPrompt(
  input: PromptInput,
  timeoutMs: number = PROMPT_LIMITS.templateTimeoutMs,
): Promise<BoxedPrompt> {
  return new Promise((resolve) => {
    let stage: 'tokenizer' | 'template' | 'tokenization' = 'tokenizer';
    let settled = false;
    const child = fork(fileURLToPath(new URL('./prompt-box.child.mjs', import.meta.url)), [], {
      execArgv: [`--max-old-space-size=${PROMPT_LIMITS.templateMemoryMb}`, '--max-semi-space-size=16'],
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      serialization: 'advanced',
    });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    const finish = (r: BoxedPrompt) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (child.exitCode === null) child.kill('SIGKILL');
      resolve(r);
    };
    const timer = setTimeout(
      () => finish({ ok: false, stage, reason: `took longer than ${timeoutMs / 1000} s (stopped; time limit)` }),
      timeoutMs,
    );
    child.on(
      'message',
      (m: {
        stage?: 'tokenizer' | 'template';
        done?: boolean;
        error?: string;
        rendered?: string;
        renderedChars?: number;
        tokens?: number;
        pads?: number;
      }) => {
        if (m.stage === 'tokenizer') stage = 'template';
        else if (m.stage === 'template') stage = 'tokenization';
        if (!m.done) return;
        if (m.error !== undefined) finish({ ok: false, stage, reason: `failed (${m.error})` });
        else
          finish({
            ok: true,
            rendered: m.rendered ?? '',
            renderedChars: m.renderedChars ?? 0,
            tokens: m.tokens ?? 0,
            pads: m.pads ?? 0,
          });
      },
    );
    child.on('error', (e) => finish({ ok: false, stage, reason: `could not start (${e.message.split('\n')[0]})` }));
    // After the last message has been delivered: a result sent just before exiting wins.
    child.on('exit', (code, signal) =>
      setTimeout(() => {
        const oom = /heap out of memory|Reached heap limit/.test(stderr);
        finish({
          ok: false,
          stage,
          reason: oom
            ? `needed more than ${PROMPT_LIMITS.templateMemoryMb} MB (stopped; memory limit)`
            : `stopped (exit ${code ?? signal})`,
        });
      }, 100),
    );
    child.send(input);
  });
}

/**
 * The box on a local model folder with the question `ask` / `eval` will send: throws CliError (one line) when the
 * tokenizer cannot be built, the template cannot be rendered or the prompt cannot be tokenized within the budget.
 * Missing files are left to the engine, which names them.
 */
export async function preflightPrompt(dir: string, question: string, label = dir): Promise<void> {
  const read = (file: string) => {
    const full = path.join(dir, file);
    if (!fs.existsSync(full)) return null;
    try {
      return readRegularFile(full, DOWNLOAD_LIMITS.maxJsonBytes)
        .toString('utf8')
        .replace(/^\uFEFF/, '');
    } catch (e) {
      throw new CliError(
        `${label}: ${file}: ${e instanceof LocalFileError ? e.message.slice(full.length + 2) : messageOf(e)}`,
      );
    }
  };
  const parse = (file: string, text: string | null) => {
    if (text === null) return null;
    try {
      return JSON.parse(text) as Record<string, unknown>;
    } catch (e) {
      throw new CliError(`${label}: ${file} is not valid JSON: ${messageOf(e)}`);
    }
  };
  const tokenizer = parse('tokenizer.json', read('tokenizer.json'));
  const tokConfig = parse('tokenizer_config.json', read('tokenizer_config.json'));
  if (!tokenizer || !tokConfig) return;
  const r = await boxPrompt({
    tokenizer,
    tokConfig,
    jinja: read('chat_template.jinja'),
    question,
    imagePadId: undefined,
  });
  if (!r.ok) throw new CliError(`${label}: ${boxFailure(r)}`);
}
