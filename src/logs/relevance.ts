/**
 * How well a line matches a query, computed on the lines themselves: BM25's term-frequency and
 * length part (k1 = 1.2, b = 0.75) over the candidate lines, every term weighing the same.
 *
 * Why not FTS5's `bm25()`: to weigh each term it counts every row that holds the term, across the
 * whole index, at every query — about 100 ms per common term per gigabyte of logs, more for a
 * phrase. The candidates (the newest matches, see search.ts) all hold every term of an AND query,
 * so what tells them apart is how often the terms occur and how long the line is.
 *
 * The query's words are found as FTS5's unicode61 tokenizer finds them: runs of letters and
 * digits, compared without case or diacritics; `word*` is a prefix.
 */
export interface QueryTerm {
  token: string;
  prefix: boolean;
}

const OPERATORS = new Set(['AND', 'OR', 'NOT', 'NEAR']);
const TOKEN = /[\p{L}\p{N}\p{Co}]+/gu;

function fold(text: string): string {
  return text.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();
}

/** The words of an FTS5 query (column names and operators left out). */
export function queryTerms(query: string): QueryTerm[] {
  const terms: QueryTerm[] = [];
  const withoutColumns = query.replace(/(^|[\s(])[A-Za-z_]+\s*:/g, '$1');
  for (const match of withoutColumns.matchAll(/"(?:[^"]|"")*"|[^\s"()]+/g)) {
    const part = match[0];
    if (!part.startsWith('"') && OPERATORS.has(part)) continue;
    for (const word of part.matchAll(TOKEN)) {
      const after = part[(word.index ?? 0) + word[0].length];
      terms.push({ token: fold(word[0]), prefix: after === '*' });
    }
  }
  return terms;
}

export interface Token {
  text: string;
  start: number;
  end: number;
}

export function tokens(text: string): Token[] {
  return [...text.matchAll(TOKEN)].map((match) => ({ text: fold(match[0]), start: match.index, end: match.index + match[0].length }));
}

function matches(term: QueryTerm, token: string): boolean {
  return term.prefix ? token.startsWith(term.token) : token === term.token;
}

/** Character ranges of the text's words that a term of the query matches. */
export function highlights(text: string, terms: readonly QueryTerm[]): Array<[number, number]> {
  return tokens(text)
    .filter((token) => terms.some((term) => matches(term, token.text)))
    .map((token) => [token.start, token.end]);
}

const K1 = 1.2;
const B = 0.75;

/** The words of a text, folded, without their places (the fast way, for ranking many lines). */
function words(text: string): string[] {
  // eslint-disable-next-line no-control-regex
  if (/^[\x00-\x7f]*$/.test(text)) return text.toLowerCase().match(/[a-z0-9]+/g) ?? [];
  return fold(text).match(TOKEN) ?? [];
}

/** BM25 scores (higher is better) of each text for the terms, lengths normalised over these texts. */
export function scores(texts: readonly string[], terms: readonly QueryTerm[]): number[] {
  const tokenized = texts.map(words);
  const averageLength = tokenized.reduce((sum, found) => sum + found.length, 0) / Math.max(1, tokenized.length) || 1;
  return tokenized.map((found) => {
    const norm = K1 * (1 - B + (B * found.length) / averageLength);
    let score = 0;
    for (const term of terms) {
      const frequency = found.filter((word) => matches(term, word)).length;
      if (frequency > 0) score += (frequency * (K1 + 1)) / (frequency + norm);
    }
    return score;
  });
}
