// The prompt of one image turn rendered and tokenized by transformers.js, in a child process that prompt-box.ts kills
// when it runs over its time budget, and that V8 stops at its heap limit (--max-old-space-size): a hostile chat
// template or pre-tokenizer regex would otherwise hang or exhaust the CLI. A process, not a worker thread: a worker
// that reaches its heap limit inside string building aborts the whole process. Plain JavaScript: no tsx loader here.
import { PreTrainedTokenizer } from '@huggingface/transformers';

process.once('message', ({ tokenizer, tokConfig, jinja, question, imagePadId }) => {
  try {
    const tok = new PreTrainedTokenizer(tokenizer, tokConfig);
    process.send({ stage: 'tokenizer' });
    const messages = [{ role: 'user', content: [{ type: 'image' }, { type: 'text', text: question }] }];
    const rendered = tok.apply_chat_template(messages, {
      tokenize: false,
      add_generation_prompt: true,
      ...(jinja ? { chat_template: jinja } : {}),
    });
    process.send({ stage: 'template' });
    const ids = tok.encode(rendered, { add_special_tokens: false });
    let pads = 0;
    for (const id of ids) if (id === imagePadId) pads++;
    process.send(
      {
        done: true,
        rendered: rendered.length > 4096 ? rendered.slice(0, 4096) : rendered,
        renderedChars: rendered.length,
        tokens: ids.length,
        pads,
      },
      () => process.exit(0),
    );
  } catch (e) {
    process.send(
      {
        done: true,
        error: String(e?.message ?? e)
          .replace(/\s*\n\s*/g, ' ')
          .slice(0, 300),
      },
      () => process.exit(0),
    );
  }
});
