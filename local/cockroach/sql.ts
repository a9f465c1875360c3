/**
 * A small SQL tokenizer for the CockroachDB double. The double rewrites the
 * few statements CockroachDB answers differently from PostgreSQL and must
 * leave everything else byte for byte, so it works on tokens that keep their
 * exact source spans: string literals, quoted identifiers, comments and
 * dollar-quoted bodies are never mistaken for the names it looks for.
 *
 * It follows PostgreSQL's lexical rules (scan.l) closely enough for that,
 * not as a parser: statements are recognised by their leading tokens.
 *
 * @module
 */

/** Token kinds. */
export type TokenKind =
  | 'word'
  | 'quoted-ident'
  | 'string'
  | 'number'
  | 'param'
  | 'op'
  | 'punct'
  | 'comment'
  | 'space';

/** One token and where it sits in the source text. */
export interface Token {
  readonly kind: TokenKind;
  /** The exact source text. */
  readonly text: string;
  readonly start: number;
  readonly end: number;
  /**
   * For words: lower-cased (PostgreSQL and CockroachDB fold unquoted names).
   * For quoted identifiers: the name without quotes. For strings: the value.
   * For params: the number as text.
   */
  readonly value: string;
}

const WORD_START = /[A-Za-z_\u0080-\uffff]/;
const WORD_PART = /[A-Za-z0-9_$\u0080-\uffff]/;
const OPERATOR_CHARS = '+-*/<>=~!@#%^&|`?';

/** Splits SQL text into tokens, keeping every character (spaces and comments too). */
export function tokenize(sql: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const push = (kind: TokenKind, start: number, end: number, value?: string) => {
    const text = sql.slice(start, end);
    tokens.push({ kind, text, start, end, value: value ?? text });
  };
  while (i < sql.length) {
    const c = sql[i] ?? '';
    const next = sql[i + 1] ?? '';
    const start = i;
    if (/\s/.test(c)) {
      while (i < sql.length && /\s/.test(sql[i] ?? '')) i++;
      push('space', start, i);
    } else if (c === '-' && next === '-') {
      while (i < sql.length && sql[i] !== '\n') i++;
      push('comment', start, i);
    } else if (c === '/' && next === '*') {
      // Block comments nest in PostgreSQL.
      let depth = 0;
      while (i < sql.length) {
        if (sql[i] === '/' && sql[i + 1] === '*') {
          depth++;
          i += 2;
        } else if (sql[i] === '*' && sql[i + 1] === '/') {
          depth--;
          i += 2;
          if (depth === 0) break;
        } else i++;
      }
      push('comment', start, i);
    } else if (c === "'" || ((c === 'E' || c === 'e') && next === "'")) {
      const escapes = c !== "'";
      i += escapes ? 2 : 1;
      let value = '';
      while (i < sql.length) {
        const ch = sql[i] ?? '';
        if (escapes && ch === '\\') {
          value += sql[i + 1] ?? '';
          i += 2;
        } else if (ch === "'" && sql[i + 1] === "'") {
          value += "'";
          i += 2;
        } else if (ch === "'") {
          i++;
          break;
        } else {
          value += ch;
          i++;
        }
      }
      push('string', start, i, value);
    } else if (c === '"') {
      i++;
      let value = '';
      while (i < sql.length) {
        if (sql[i] === '"' && sql[i + 1] === '"') {
          value += '"';
          i += 2;
        } else if (sql[i] === '"') {
          i++;
          break;
        } else {
          value += sql[i];
          i++;
        }
      }
      push('quoted-ident', start, i, value);
    } else if (c === '$' && /[0-9]/.test(next)) {
      i++;
      while (i < sql.length && /[0-9]/.test(sql[i] ?? '')) i++;
      push('param', start, i, sql.slice(start + 1, i));
    } else if (c === '$') {
      // Dollar quoting: $tag$ ... $tag$, the tag empty or an identifier.
      const tag = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i));
      if (tag) {
        const close = sql.indexOf(tag[0], i + tag[0].length);
        const end = close < 0 ? sql.length : close + tag[0].length;
        push('string', start, end, sql.slice(i + tag[0].length, close < 0 ? end : close));
        i = end;
      } else {
        i++;
        push('punct', start, i);
      }
    } else if (WORD_START.test(c)) {
      while (i < sql.length && WORD_PART.test(sql[i] ?? '')) i++;
      push('word', start, i, sql.slice(start, i).toLowerCase());
    } else if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(next))) {
      while (i < sql.length && /[0-9.eE]/.test(sql[i] ?? '')) i++;
      push('number', start, i);
    } else if (c === ':' && next === ':') {
      i += 2;
      push('op', start, i);
    } else if (OPERATOR_CHARS.includes(c)) {
      while (i < sql.length && OPERATOR_CHARS.includes(sql[i] ?? '')) i++;
      push('op', start, i);
    } else {
      i++;
      push('punct', start, i);
    }
  }
  return tokens;
}

/** Tokens that carry meaning (no spaces, no comments). */
export function significant(tokens: readonly Token[]): Token[] {
  return tokens.filter((t) => t.kind !== 'space' && t.kind !== 'comment');
}

/** Splits a Query message's text into statements on top-level semicolons. */
export function splitStatements(sql: string): string[] {
  const statements: string[] = [];
  let from = 0;
  for (const token of tokenize(sql)) {
    if (token.kind === 'punct' && token.text === ';') {
      statements.push(sql.slice(from, token.start));
      from = token.end;
    }
  }
  statements.push(sql.slice(from));
  return statements.filter((s) => significant(tokenize(s)).length > 0);
}

/** Whether a token is the bare or quoted name `name` (case rules of SQL). */
export function isName(token: Token | undefined, name: string): boolean {
  if (!token) return false;
  if (token.kind === 'word') return token.value === name;
  if (token.kind === 'quoted-ident') return token.value === name;
  return false;
}

/** Whether a token names something (a word or a quoted identifier). */
export function isIdentifier(token: Token | undefined): token is Token {
  return token?.kind === 'word' || token?.kind === 'quoted-ident';
}

/** The highest `$n` a statement uses, so a replacement can keep its parameters. */
export function highestParameter(tokens: readonly Token[]): number {
  let highest = 0;
  for (const t of tokens) if (t.kind === 'param') highest = Math.max(highest, Number(t.value));
  return highest;
}

/** A SQL string literal (standard_conforming_strings is on in both servers). */
export function literal(value: string): string {
  if (value.includes('\0')) throw new Error('a SQL literal cannot hold a NUL character');
  return `'${value.replaceAll("'", "''")}'`;
}

/** A SQL identifier, always quoted. */
export function identifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * Words that may follow a table reference and are not an alias for it, so
 * the double knows whether it may name the subquery it puts in its place.
 */
const NOT_AN_ALIAS = new Set([
  'where',
  'join',
  'inner',
  'left',
  'right',
  'full',
  'cross',
  'natural',
  'on',
  'using',
  'group',
  'order',
  'limit',
  'offset',
  'fetch',
  'for',
  'union',
  'except',
  'intersect',
  'window',
  'having',
  'returning',
  'as',
]);

/**
 * Whether the table reference ending before `tokens[index]` already has an
 * alias (`AS x` or a bare name), in which case its replacement must not get one.
 */
export function hasAlias(tokens: readonly Token[], index: number): boolean {
  const next = tokens[index];
  if (!next) return false;
  if (next.kind === 'word' && next.value === 'as') return true;
  if (next.kind === 'quoted-ident') return true;
  return next.kind === 'word' && !NOT_AN_ALIAS.has(next.value);
}
