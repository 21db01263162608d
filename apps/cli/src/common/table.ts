/** Plain-text rendering for people; scripts use `-o json`. */

const GAP = '   ';

/**
 * Aligned columns; a cell may hold several lines (the row grows, the other cells stay at the
 * top). Trailing spaces are trimmed.
 */
export function renderTable(rows: readonly (readonly string[])[]): string {
  const cells = rows.map((row) => row.map((cell) => cell.split('\n')));
  const widths: number[] = [];
  for (const row of cells) {
    row.forEach((lines, column) => {
      widths[column] = Math.max(widths[column] ?? 0, ...lines.map((line) => line.length));
    });
  }
  const out: string[] = [];
  for (const row of cells) {
    const height = Math.max(1, ...row.map((lines) => lines.length));
    for (let line = 0; line < height; line++) {
      const text = row.map((lines, column) => (lines[line] ?? '').padEnd(widths[column])).join(GAP);
      out.push(text.trimEnd());
    }
  }
  return out.map((line) => line + '\n').join('');
}

export const orNone = (text: string): string => (text === '' ? 'none' : text);

/** `key: value` lines of a map, sorted by key; "none" when empty. */
export function describeMap(map: Readonly<Record<string, string | number>>): string {
  return orNone(
    Object.keys(map)
      .sort()
      .map((key) => `${key}: ${map[key]}`)
      .join('\n'),
  );
}

const UNITS: [string, number][] = [
  ['year', 365 * 86_400],
  ['month', 30 * 86_400],
  ['week', 7 * 86_400],
  ['day', 86_400],
  ['hour', 3_600],
  ['minute', 60],
  ['second', 1],
];

/** "3 minutes ago", "in 2 hours"; "never" for Go's zero time (Orchard's unset timestamps). */
export function relativeTime(iso: string, now: Date = new Date()): string {
  const time = new Date(iso);
  if (Number.isNaN(time.getTime()) || time.getUTCFullYear() <= 1) return 'never';
  const seconds = Math.round((now.getTime() - time.getTime()) / 1000);
  const magnitude = Math.abs(seconds);
  if (magnitude < 1) return 'now';
  const [unit, size] = UNITS.find(([, size]) => magnitude >= size) ?? UNITS[UNITS.length - 1];
  const count = Math.floor(magnitude / size);
  const phrase = `${count} ${unit}${count === 1 ? '' : 's'}`;
  return seconds > 0 ? `${phrase} ago` : `in ${phrase}`;
}
