// The README's code blocks as tests run them: the first fenced block of a language after a
// phrase of the prose, exactly as printed. Throws when the phrase or the block is not there.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const readmePath = fileURLToPath(new URL('../../README.md', import.meta.url));

export function readmeBlock(after: string, lang: 'sh' | 'ts' | 'js'): string {
  const readme = readFileSync(readmePath, 'utf8');
  const start = readme.indexOf(after);
  if (start < 0) throw new Error(`README.md has no ${JSON.stringify(after)}`);
  const block = new RegExp('```' + lang + '\\n([\\s\\S]*?)```').exec(readme.slice(start));
  if (!block) throw new Error(`README.md has no \`\`\`${lang} block after ${JSON.stringify(after)}`);
  return block[1]!;
}
