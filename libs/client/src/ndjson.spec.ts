import { lines } from './ndjson.js';

async function* chunks(...parts: string[]): AsyncGenerator<string> {
  for (const part of parts) yield await Promise.resolve(part);
}

async function collect(source: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const line of source) out.push(line);
  return out;
}

describe(lines.name, () => {
  it('joins a line split across chunks', async () => {
    expect(await collect(lines(chunks('{"a":', '1}\n{"b"', ':2}\n')))).toEqual(['{"a":1}', '{"b":2}']);
  });

  it('splits several lines arriving in one chunk', async () => {
    expect(await collect(lines(chunks('one\ntwo\nthree\n')))).toEqual(['one', 'two', 'three']);
  });

  it('keeps a last line that has no newline', async () => {
    expect(await collect(lines(chunks('one\ntw', 'o')))).toEqual(['one', 'two']);
  });

  it('skips blank lines and carriage returns', async () => {
    expect(await collect(lines(chunks('one\r\n\n  \ntwo\r\n')))).toEqual(['one', 'two']);
  });
});
