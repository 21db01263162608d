import { readFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem, type } from 'node:os';

export interface Machine {
  cores: number;
  model: string;
  memoryGiB: number;
  node: string;
  os: string;
  /** 1, 5 and 15 minutes, when the bench started: the machine may be shared. */
  loadAverage: string;
}

export function describeMachine(): Machine {
  const list = cpus();
  return {
    cores: list.length,
    model: list[0]?.model.trim() ?? 'unknown',
    memoryGiB: totalmem() / 2 ** 30,
    node: process.version,
    os: `${type()} ${release()} ${process.arch}`,
    loadAverage: loadAverageNow(),
  };
}

export function loadAverageNow(): string {
  return loadavg()
    .map((load) => load.toFixed(2))
    .join(' ');
}

/**
 * Linux pressure stall information: microseconds so far during which at least one runnable
 * task waited for a CPU (NaN where the kernel does not report it).
 */
export function cpuPressureMicros(): number {
  try {
    const match = /^some .*total=(\d+)/m.exec(readFileSync('/proc/pressure/cpu', 'utf8'));
    return match ? Number(match[1]) : NaN;
  } catch {
    return NaN;
  }
}

export interface Distribution {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** Nearest-rank percentiles; NaN everywhere for no samples. */
export function distribution(samples: readonly number[]): Distribution {
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = (q: number) =>
    sorted.length === 0 ? NaN : sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)];
  return {
    count: sorted.length,
    p50: rank(0.5),
    p90: rank(0.9),
    p99: rank(0.99),
    max: sorted.length === 0 ? NaN : sorted[sorted.length - 1],
  };
}

/** Milliseconds, with the precision that matters at that size. */
export function ms(value: number): string {
  if (!Number.isFinite(value)) return '-';
  if (value < 10) return value.toFixed(2);
  if (value < 1000) return value.toFixed(1);
  return value.toFixed(0);
}

/** A Markdown table, readable on a terminal and pasteable into docs; numeric columns right-aligned. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const numeric = header.map(
    (_, column) =>
      rows.length > 0 && rows.every((row) => /^(-|[\d.,]+%?( \/ [\d.,]+)?)$/.test(row[column] ?? '')),
  );
  const line = (cells: readonly string[]) =>
    `| ${cells
      .map((cell, column) => (numeric[column] ? cell.padStart(widths[column]) : cell.padEnd(widths[column])))
      .join(' | ')} |`;
  const rule = `|${widths
    .map((width, column) => (numeric[column] ? `${'-'.repeat(width + 1)}:` : '-'.repeat(width + 2)))
    .join('|')}|`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}
