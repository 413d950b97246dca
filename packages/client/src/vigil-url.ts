/**
 * Client URL parsing, shared by the Node and browser entries: checks the scheme
 * against the ones a platform's transports dial. No I/O, no Node imports.
 */
import { ErrorCode, VigilError } from '@vigil/protocol';

/** Parses and checks a client URL. @throws VigilError `ERR_VIGIL_INVALID_URL`. */
export function parseVigilUrl(url: string, schemes: readonly string[]): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (cause) {
    throw new VigilError(ErrorCode.InvalidUrl, `not a URL: ${url}`, { cause });
  }
  const scheme = parsed.protocol.replace(/:$/, '');
  if (!schemes.includes(scheme)) throw new VigilError(ErrorCode.InvalidUrl, `unsupported scheme "${scheme}" in ${url}; use one of ${schemes.join(', ')}`);
  if (parsed.port === '' && (scheme === 'tcp' || scheme === 'tls')) throw new VigilError(ErrorCode.InvalidUrl, `missing port in ${url}`);
  return parsed;
}
