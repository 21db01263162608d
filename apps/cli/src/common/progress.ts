/** Where a long wait reports what it is waiting for, on stderr so stdout stays clean for scripts. */
export interface Progress {
  update(text: string): void;
  stop(): void;
}

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/** A spinner for a terminal: one line, redrawn in place. */
class Spinner implements Progress {
  private frame = 0;
  private text = '';
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly stream: NodeJS.WriteStream) {}

  update(text: string): void {
    this.text = text;
    this.timer ??= setInterval(() => this.draw(), 80);
    this.draw();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.stream.write('\r\x1b[K');
  }

  private draw(): void {
    this.frame = (this.frame + 1) % FRAMES.length;
    // Cut to the terminal's width: a wrapped line could not be redrawn in place.
    const text = this.text.slice(0, Math.max(0, (this.stream.columns || 80) - 3));
    this.stream.write(`\r\x1b[K${FRAMES[this.frame]} ${text}`);
  }
}

/** For logs and pipes: one line per change, no control characters. */
class ProgressLines implements Progress {
  private last = '';

  constructor(private readonly stream: NodeJS.WritableStream) {}

  update(text: string): void {
    if (text !== this.last) this.stream.write(`${text}\n`);
    this.last = text;
  }

  stop(): void {}
}

export function progressOn(stream: NodeJS.WriteStream): Progress {
  return stream.isTTY ? new Spinner(stream) : new ProgressLines(stream);
}
