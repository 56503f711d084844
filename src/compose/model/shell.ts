// POSIX-like word splitting for `command:`/`entrypoint:` strings (quotes and backslashes, no expansion), as
// Compose does with its shellwords parser. Small enough to keep rather than take a dependency for.
import { ComposeFileError } from './errors.js';

export function shellSplit(s: string): string[] {
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === "'") {
      const end = s.indexOf("'", i + 1);
      if (end === -1) throw new ComposeFileError(`invalid command line string: unterminated single quote: ${s}`);
      cur += s.slice(i + 1, end);
      inWord = true;
      i = end;
    } else if (c === '"') {
      let j = i + 1;
      for (; j < s.length && s[j] !== '"'; j++) {
        // inside double quotes a backslash escapes only these, as in sh
        if (s[j] === '\\' && j + 1 < s.length && '"\\$`\n'.includes(s[j + 1]!)) j++;
        cur += s[j];
      }
      if (j >= s.length) throw new ComposeFileError(`invalid command line string: unterminated double quote: ${s}`);
      inWord = true;
      i = j;
    } else if (c === '\\' && i + 1 < s.length) {
      cur += s[++i];
      inWord = true;
    } else if (c === ' ' || c === '\t' || c === '\n') {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (inWord) words.push(cur);
  return words;
}
