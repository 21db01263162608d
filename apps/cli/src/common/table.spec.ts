import { describeMap, relativeTime, renderTable } from './table.js';

describe(renderTable.name, () => {
  it('aligns columns on the widest cell and trims trailing spaces', () => {
    expect(
      renderTable([
        ['Name', 'Status'],
        ['a-long-name', 'pending'],
        ['b', ''],
      ]),
    ).toBe('Name          Status\na-long-name   pending\nb\n');
  });

  it('grows a row for a cell of several lines, keeping the others at the top', () => {
    expect(
      renderTable([
        ['Labels', 'a: 1\nb: 2'],
        ['Name', 'x'],
      ]),
    ).toBe('Labels   a: 1\n         b: 2\nName     x\n');
  });

  it('renders nothing for no rows', () => {
    expect(renderTable([])).toBe('');
  });
});

describe(describeMap.name, () => {
  it('lists key: value lines sorted by key, or none', () => {
    expect(describeMap({ b: 2, a: 'x' })).toBe('a: x\nb: 2');
    expect(describeMap({})).toBe('none');
  });
});

describe(relativeTime.name, () => {
  const now = new Date('2026-01-10T12:00:00Z');

  it('says how long ago, in the largest whole unit', () => {
    expect(relativeTime('2026-01-10T11:59:59Z', now)).toBe('1 second ago');
    expect(relativeTime('2026-01-10T11:57:00Z', now)).toBe('3 minutes ago');
    expect(relativeTime('2026-01-10T10:00:00Z', now)).toBe('2 hours ago');
    expect(relativeTime('2026-01-01T12:00:00Z', now)).toBe('1 week ago');
    expect(relativeTime('2024-01-01T12:00:00Z', now)).toBe('2 years ago');
  });

  it('says now, in the future, and never for unset times', () => {
    expect(relativeTime('2026-01-10T12:00:00Z', now)).toBe('now');
    expect(relativeTime('2026-01-10T12:05:00Z', now)).toBe('in 5 minutes');
    expect(relativeTime('0001-01-01T00:00:00Z', now)).toBe('never');
    expect(relativeTime('', now)).toBe('never');
  });
});
