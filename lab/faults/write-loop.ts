/**
 * @file Child process of the kill-during-write test: replaces `<target>` through writeFileAtomic in a loop, each
 * time with a complete 2 MB JSON document, and says "ready" once the loop runs. The parent kills it with SIGKILL.
 */
import { writeFileAtomic } from '../../src/cli/lib/write-file.ts';

const target = process.argv[2];
const pad = 'x'.repeat(2_000_000);
let i = 0;
process.stdout.write('ready\n');
for (;;) writeFileAtomic(target, JSON.stringify({ i: i++, pad }));
