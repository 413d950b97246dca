import { UsageError } from '../../src/internal/args.js';

/** The UsageError `parse` throws; fails the test if it throws nothing or something else. */
export function usageErrorOf(parse: () => unknown): UsageError {
  try {
    parse();
  } catch (error) {
    if (error instanceof UsageError) return error;
    throw error;
  }
  throw new Error('no UsageError');
}
