/**
 * Lexer for /etc/inet/ike/config (ike.config(4) lexical rules, ../shared/docs/solaris-ike.md §1.1):
 * `#` and `//` comments to end of line, free-form whitespace (space, tab, newline), braces, quoted
 * strings with backslash escapes, and atoms (words, numbers, addresses, algorithm ranges). Atoms are
 * classified by the grammar that reads them. Every token carries file:line:column; a carriage return
 * or other control character is an error naming its position.
 */
import { CryptoErr, OakleyError } from '../util/errors';

export interface Position { readonly file: string; readonly line: number; readonly column: number }

export type Token =
  | { readonly kind: 'atom'; readonly text: string; readonly pos: Position }
  | { readonly kind: 'string'; readonly text: string; readonly pos: Position }
  | { readonly kind: '{' | '}'; readonly text: string; readonly pos: Position };

export function where(pos: Position): string {
  return `${pos.file}:${pos.line}:${pos.column}`;
}

export function configError(pos: Position, message: string): OakleyError {
  return new OakleyError(CryptoErr.CONFIG, `${where(pos)}: ${message}`, { file: pos.file, line: pos.line, column: pos.column });
}

/** Longest accepted quoted string (the Solaris lexer has a fixed buffer too). */
const MAX_STRING = 4096;

const isSpace = (c: string): boolean => c === ' ' || c === '\t' || c === '\n';
const isAtomChar = (c: string): boolean => c > ' ' && c !== '{' && c !== '}' && c !== '"' && c !== '#' && c !== '\x7f';

export function tokenize(text: string, file: string): Token[] {
  const tokens: Token[] = [];
  let line = 1;
  let lineStart = 0;
  let i = 0;
  const pos = (at: number): Position => ({ file, line, column: at - lineStart + 1 });
  while (i < text.length) {
    const c = text[i];
    if (c === '\n') {
      i++;
      line++;
      lineStart = i;
      continue;
    }
    if (isSpace(c)) { i++; continue; }
    if (c === '#' || (c === '/' && text[i + 1] === '/')) {
      while (i < text.length && text[i] !== '\n') i++;
      continue;
    }
    if (c === '{' || c === '}') {
      tokens.push({ kind: c, text: c, pos: pos(i) });
      i++;
      continue;
    }
    if (c === '"') {
      const start = pos(i);
      let s = '';
      i++;
      for (;;) {
        if (i >= text.length) throw configError(start, 'quoted string is not closed before the end of the file');
        const d = text[i];
        if (d === '\n') throw configError(start, 'newline in quoted string (close the string on the line it starts)');
        if (d === '"') { i++; break; }
        if (d === '\\' && i + 1 < text.length && text[i + 1] !== '\n') { s += text[i + 1]; i += 2; } else { s += d; i++; }
        if (s.length > MAX_STRING) throw configError(start, `quoted string is longer than ${MAX_STRING} characters`);
      }
      tokens.push({ kind: 'string', text: s, pos: start });
      continue;
    }
    if (!isAtomChar(c)) {
      const what = c === '\r' ? 'carriage return (the file must use Unix line ends)' : `character 0x${c.charCodeAt(0).toString(16).padStart(2, '0')}`;
      throw configError(pos(i), `unexpected ${what}`);
    }
    const start = i;
    while (i < text.length && isAtomChar(text[i]) && !(text[i] === '/' && text[i + 1] === '/')) i++;
    tokens.push({ kind: 'atom', text: text.slice(start, i), pos: pos(start) });
  }
  return tokens;
}
