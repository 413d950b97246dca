/**
 * Progress on stderr: permanent lines for each finished run, and on a terminal one
 * transient status line redrawn while a run waits for its detectors.
 */
export class Progress {
  private readonly tty: boolean;
  private transient = false;

  constructor(private readonly out: NodeJS.WriteStream = process.stderr) {
    this.tty = out.isTTY === true;
  }

  /** A permanent line (replaces the status line on a terminal). */
  line(text: string): void {
    this.clear();
    this.out.write(`${text}\n`);
  }

  /** A transient status line; ignored when stderr is not a terminal (CI logs stay readable). */
  status(text: string): void {
    if (!this.tty) return;
    const width = (this.out.columns ?? 100) - 1;
    this.out.write(`\r\x1b[2K${text.length > width ? text.slice(0, width) : text}`);
    this.transient = true;
  }

  clear(): void {
    if (this.transient) this.out.write('\r\x1b[2K');
    this.transient = false;
  }
}
