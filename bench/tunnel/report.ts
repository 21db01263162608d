import { percentile } from '../support/report.js';
import type { ProbeUsage } from './proc.js';
import { megabytesPerSecond, type RoundTrips, type Transfer } from './measure.js';

export function mib(bytes: number): string {
  return Number.isFinite(bytes) ? `${(bytes / 2 ** 20).toFixed(0)} MiB` : '-';
}

/** A rate in MB/s (10^6 bytes); `*` when the time cap ended the transfer early. */
export function rate(transfer: Transfer | null): string {
  if (!transfer) return '-';
  if (transfer.error !== null) return 'failed';
  const value = megabytesPerSecond(transfer);
  if (!Number.isFinite(value)) return '-';
  return `${value >= 100 ? value.toFixed(0) : value.toFixed(1)}${transfer.capped ? '*' : ''}`;
}

export interface Latency {
  p50: number;
  p99: number;
  max: number;
  count: number;
}

export function latency(trips: RoundTrips | null): Latency {
  const sorted = [...(trips?.samples ?? [])].sort((a, b) => a - b);
  return {
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
    max: sorted.length ? sorted[sorted.length - 1] : NaN,
    count: sorted.length,
  };
}

/**
 * Per process: CPU ms per MB moved, and the share of the wall time its main thread was on a CPU /
 * runnable but waiting for one. A main thread near 100% on a CPU is the bottleneck of its path.
 */
export function cpuBreakdown(transfer: Transfer | null): string {
  if (!transfer || transfer.error !== null || transfer.bytes === 0) return '-';
  const megabytes = transfer.bytes / 1e6;
  return transfer.cpu
    .map((usage: ProbeUsage) => {
      const share = (value: number) =>
        Number.isFinite(value) ? `${((value / transfer.ms) * 100).toFixed(0)}%` : '-';
      return `${usage.label} ${(usage.cpuMs / megabytes).toFixed(2)} (${share(usage.runMs)}/${share(usage.waitMs)})`;
    })
    .join('; ');
}

export function cpuTotalPerMegabyte(transfer: Transfer | null): string {
  if (!transfer || transfer.error !== null || transfer.bytes === 0) return '-';
  const total = transfer.cpu.reduce((sum, usage) => sum + usage.cpuMs, 0);
  return (total / (transfer.bytes / 1e6)).toFixed(2);
}

export function bytesText(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes)) return '-';
  return `${(bytes / 2 ** 20).toFixed(0)} MiB`;
}

/** Share of the transfer during which some task of the machine waited for a CPU (Linux PSI). */
export function pressure(transfer: Transfer | null): string {
  if (!transfer || transfer.error !== null || !Number.isFinite(transfer.pressureMs) || !(transfer.ms > 0))
    return '-';
  return `${Math.min(100, (transfer.pressureMs / transfer.ms) * 100).toFixed(0)}%`;
}
