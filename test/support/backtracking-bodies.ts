/**
 * Issue bodies built to make a regular expression backtrack (long runs of what a reference may
 * start with, never finished), `size` characters each: the dependency parser's unit test reads
 * them for what it finds, the `parse` benchmark for how its time grows with `size`.
 */
export function backtrackingBodies(size: number): string[] {
  return [
    `depends on${' '.repeat(size)}x`,
    `depends on #1${' '.repeat(size)}x`,
    `depends on #1${', #2'.repeat(size / 4)}`,
    `depends on #1,${' \t'.repeat(size / 2)}x`,
    `depends on #${'9'.repeat(size)}`,
    `${'- [ ]'.padEnd(200, ' ')}x\n`.repeat(size / 201),
    Array.from({ length: size / 64 }, (_, index) => `depends on #${(index % 97) + 1} and #${(index % 89) + 1}, `).join(''),
    `depends on ${'a'.repeat(size)}`,
    `depends on a/${'b'.repeat(size)}`,
    `depends on https://${'h'.repeat(size)}`,
    `depends on https://github.com/a/${'b'.repeat(size)}/issues/x`,
    `- [ ] ${'a-'.repeat(size / 2)}/b#1`,
  ];
}
