import { describe, expect, it } from 'vitest';
import { parseBodyDependencies, parseBodyReferences, parseDependencyFile } from '../../src/issues/dependencies.ts';
import { backtrackingBodies } from '../support/backtracking-bodies.ts';

describe('parseBodyDependencies', () => {
  it('reads the stated forms, case-insensitive, unique and sorted', () => {
    const body = [
      'Depends on #12',
      'This depends on #3, #2 and #1.',
      'BLOCKED BY #7; requires: #4 & #5',
      'depends-on #41, and #40',
      'Depends on #12 again',
    ].join('\n');
    expect(parseBodyDependencies(body)).toEqual([1, 2, 3, 4, 5, 7, 12, 40, 41]);
  });

  it('reads task-list items, open or checked, with -, * or +', () => {
    const body = '## Tasks\n- [ ] #9\n- [x] #10 write the docs\n  * [X] #11\n+ [ ] #12\n- [ ] not an issue\n-[ ] #13\n';
    expect(parseBodyDependencies(body)).toEqual([9, 10, 11, 12]);
  });

  it('ignores what only looks like a reference', () => {
    const body = [
      'see #5',
      'depends on owner/repo#6',
      'depends on #7abc',
      'it depends on the weather #8',
      'requires #0',
      `depends on #${'9'.repeat(40)}`,
      'independs on #10',
      'depends\non #11',
    ].join('\n');
    expect(parseBodyDependencies(body)).toEqual([]);
  });

  it('answers references to another repository apart, by name or by link, and ours named in full as ours', () => {
    const body = [
      'Depends on other/repo#12 and #3',
      'blocked by https://github.com/Other/Repo/issues/13, acme/widgets#4',
      'it depends on https://github.com/acme/widgets/issues/8#issuecomment-1',
      'requires https://github.com/ACME/widgets/issues/5',
      '- [ ] third-party/lib.js#6',
      '- [x] https://ghe.example.com/acme/widgets/issues/7',
      'depends on https://github.com/other/repo/pull/14',
      'depends on other/repo#12',
    ].join('\n');
    expect(parseBodyReferences(body, 'acme/widgets')).toEqual({
      numbers: [3, 4, 5, 7, 8],
      elsewhere: ['other/repo#12', 'Other/Repo#13', 'third-party/lib.js#6'],
    });
    // Without a repository of its own (the local source), every named repository is another one.
    expect(parseBodyReferences('depends on acme/widgets#4, #2', undefined)).toEqual({ numbers: [2], elsewhere: ['acme/widgets#4'] });
    expect(parseBodyDependencies(body, 'acme/widgets')).toEqual([3, 4, 5, 7, 8]);
  });

  it('stops a list at the first item that is not a reference', () => {
    expect(parseBodyDependencies('depends on #1, #2, bar #3 and #4')).toEqual([1, 2]);
  });

  it('never throws: not a string, odd text', () => {
    expect(parseBodyDependencies(null as unknown as string)).toEqual([]);
    expect(parseBodyDependencies('')).toEqual([]);
    expect(parseBodyDependencies('depends on #\u0000#1 \uD800 - [ ] #\n')).toEqual([]);
    expect(parseBodyDependencies('déjà: depends on #١٢ (Arabic digits), blocked by #3')).toEqual([3]);
  });

  // How the time grows with the size is measured by the bench (`npm run bench -- parse`): a
  // quadratic parse of these bodies would not end within the test's timeout either.
  it('reads bodies of megabytes built to make a regexp backtrack', () => {
    const bodies = backtrackingBodies(5 * 2 ** 20);
    for (const body of bodies) expect(() => parseBodyDependencies(body)).not.toThrow();
    expect(parseBodyDependencies(bodies[2]!)).toEqual([1, 2]);
  });
});

describe('parseDependencyFile', () => {
  it('reads issue → dependencies, numbers or "#12" strings, block or flow lists', () => {
    const text = '# the plan\n12: [3, 5, 3]\n"#13": ["#12"]\n14:\n  - 12\n  - "13"\n15: []\n';
    const result = parseDependencyFile(text, 'deps.yaml');
    expect(result).toEqual({
      dependencies: new Map([
        [12, [3, 5]],
        [13, [12]],
        [14, [12, 13]],
        [15, []],
      ]),
      ignored: [],
    });
  });

  it('an empty file has no dependencies', () => {
    expect(parseDependencyFile('', 'deps.yaml')).toEqual({ dependencies: new Map(), ignored: [] });
    expect(parseDependencyFile('# nothing yet\n', 'deps.yaml')).toEqual({ dependencies: new Map(), ignored: [] });
  });

  it('reports every problem at once, each at its line and column', () => {
    const text = ['12: [3, 5]', 'abc: [1]', '14:', '15: 3', '16: [1, x, 16]', '"#12": [4]', '17: {a: 1}'].join('\n');
    const result = parseDependencyFile(text, 'deps.yaml');
    expect('problems' in result && result.problems).toEqual([
      { line: 2, column: 1, message: 'deps.yaml:2:1: "abc" is not an issue number' },
      {
        line: 3,
        column: 4,
        message: 'deps.yaml:3:4: the dependencies of #14 must be a list of issue numbers, like [3, 5], not nothing (write [] for none)',
      },
      { line: 4, column: 5, message: 'deps.yaml:4:5: the dependencies of #15 must be a list of issue numbers, like [3, 5], not 3' },
      { line: 5, column: 9, message: 'deps.yaml:5:9: "x" in the dependencies of #16 is not an issue number' },
      { line: 5, column: 12, message: 'deps.yaml:5:12: #16 depends on itself' },
      { line: 6, column: 1, message: 'deps.yaml:6:1: #12 is listed twice (first at line 1)' },
      { line: 7, column: 5, message: 'deps.yaml:7:5: the dependencies of #17 must be a list of issue numbers, like [3, 5], not a mapping' },
    ]);
  });

  it('ignores, and names, what is on another repository; our own named in full is ours', () => {
    const text = ['12: [3, other/repo#5, "acme/widgets#6"]', 'other/repo#7: [12]', '13: ["https://github.com/other/repo/issues/8", 12]', ''].join('\n');
    expect(parseDependencyFile(text, 'deps.yaml', 'acme/widgets')).toEqual({
      dependencies: new Map([
        [12, [3, 6]],
        [13, [12]],
      ]),
      ignored: [
        { line: 1, column: 9, message: 'deps.yaml:1:9: other/repo#5 in the dependencies of #12 is an issue of another repository: ignored' },
        { line: 2, column: 1, message: 'deps.yaml:2:1: other/repo#7 is an issue of another repository: its dependencies are ignored' },
        { line: 3, column: 6, message: 'deps.yaml:3:6: other/repo#8 in the dependencies of #13 is an issue of another repository: ignored' },
      ],
    });
    // Not an issue at all is still a problem.
    const bad = parseDependencyFile('12: [other/repo#x, other#5]\n', 'deps.yaml', 'acme/widgets');
    expect('problems' in bad && bad.problems.map((problem) => problem.message)).toEqual([
      'deps.yaml:1:6: "other/repo#x" in the dependencies of #12 is not an issue number',
      'deps.yaml:1:20: "other#5" in the dependencies of #12 is not an issue number',
    ]);
  });

  it('malformed YAML, and a file that is not a mapping', () => {
    const malformed = parseDependencyFile('12: [3, 5]\n13: [4\n', 'deps.yaml');
    expect('problems' in malformed && malformed.problems[0]!.message).toMatch(/^deps\.yaml:\d+:\d+: malformed YAML: /);
    const list = parseDependencyFile('\n- 12\n- 13\n', 'deps.yaml');
    expect('problems' in list && list.problems).toEqual([
      { line: 2, column: 1, message: 'deps.yaml:2:1: expected a mapping of issue → [dependencies], like `12: [3, 5]`' },
    ]);
  });

  it('keys and items that are not positive whole numbers are refused', () => {
    const result = parseDependencyFile('0: [1]\n2.5: [1]\n-3: [1]\n4: [true, 1.5, "#x", null]\n', 'deps.yaml');
    expect('problems' in result && result.problems.map((problem) => problem.message.split(': ').slice(1).join(': '))).toEqual([
      '0 is not an issue number',
      '2.5 is not an issue number',
      '-3 is not an issue number',
      'true in the dependencies of #4 is not an issue number',
      '1.5 in the dependencies of #4 is not an issue number',
      '"#x" in the dependencies of #4 is not an issue number',
      'an empty value in the dependencies of #4 is not an issue number',
    ]);
  });
});
