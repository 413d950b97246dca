/**
 * The shared command-line parser: every refusal names the flag as the user typed it,
 * and numbers are parsed strictly.
 */
import { ExitCode, UsageError, parseCommandLine, parseMs, parsePort, parseSeconds } from '../../src/internal/args.js';

const SPECS = { tcp: { type: 'string' }, help: { type: 'boolean', short: 'h' } } as const;

function refusal(fn: () => unknown): UsageError {
  try {
    fn();
  } catch (error) {
    if (error instanceof UsageError) return error;
    throw error;
  }
  throw new Error('expected a UsageError');
}

describe('parseCommandLine', () => {
  it('returns flags, how each was spelled, and positionals', () => {
    expect(parseCommandLine('x', SPECS, ['a', '-h', '--tcp=1', '--tcp', '2', '--', '--b'], 2)).toEqual({
      flags: { help: true, tcp: '2' },
      spelled: { help: '-h', tcp: '--tcp' },
      positionals: ['a', '--b'],
    });
  });

  it.each([
    [['--nope'], '--nope', 'unknown flag --nope'],
    [['-n'], '-n', 'unknown flag -n'],
    [['--tcp'], '--tcp', '--tcp needs a value'],
    [['--tcp', '--help'], '--tcp', '--tcp needs a value'],
    [['--help=1'], '--help', '--help does not take a value'],
    [['a', 'b', 'c'], null, 'unexpected extra argument "c"'],
  ])('refuses %j naming %s', (argv, flag, message) => {
    const error = refusal(() => parseCommandLine('x', SPECS, argv, 2));
    expect({ flag: error.flag, message: error.message }).toEqual({ flag, message });
  });

  it('accepts a negative-looking value given with =', () => {
    expect(parseCommandLine('x', SPECS, ['--tcp=-1'], 0).flags.tcp).toBe('-1');
  });

  it('formats the line printed on stderr', () => {
    expect(new UsageError('serve', '--tcp', '--tcp needs a value').line).toBe("vigil serve: --tcp needs a value (see 'vigil serve --help')");
    expect(new UsageError('', null, 'missing command').line).toBe("vigil: missing command (see 'vigil --help')");
    expect(ExitCode.Usage).toBe(2);
  });
});

describe('number flags', () => {
  it('parses ports 0 to 65535', () => {
    expect(parsePort('x', '--p', '0')).toBe(0);
    expect(parsePort('x', '--p', '65535')).toBe(65_535);
    for (const bad of ['65536', '-1', '1.0', '0x10', '', ' 1']) expect(() => parsePort('x', '--p', bad)).toThrow(UsageError);
  });

  it('parses whole positive milliseconds', () => {
    expect(parseMs('x', '--t', '1')).toBe(1);
    expect(parseMs('x', '--t', '86400000')).toBe(86_400_000);
    for (const bad of ['0', '86400001', '1.5', '1e3', 'ms']) expect(() => parseMs('x', '--t', bad)).toThrow(UsageError);
  });

  it('parses positive seconds with up to three decimals', () => {
    expect(parseSeconds('x', '--d', '6')).toBe(6);
    expect(parseSeconds('x', '--d', '0.25')).toBe(0.25);
    for (const bad of ['0', '0.0', '1.2345', '-3', 'Infinity']) expect(() => parseSeconds('x', '--d', bad)).toThrow(UsageError);
  });
});
