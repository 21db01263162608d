import { packMessages } from './messages.js';

describe(packMessages.name, () => {
  it('joins small chunks into one message', () => {
    const messages = packMessages([Buffer.from('ab'), Buffer.from('cd'), Buffer.from('e')], 10);
    expect(messages.map(String)).toEqual(['abcde']);
  });

  it('splits what exceeds the maximum across messages filled to the brim', () => {
    const messages = packMessages([Buffer.from('abcdef'), Buffer.from('ghij')], 4);
    expect(messages.map(String)).toEqual(['abcd', 'efgh', 'ij']);
  });

  it('sends a lone chunk that fits without copying it', () => {
    const chunk = Buffer.from('abc');
    expect(packMessages([chunk], 4)[0]).toBe(chunk);
  });

  it('drops empty chunks, since an empty message means end-of-stream to some peers', () => {
    expect(packMessages([Buffer.alloc(0)], 4)).toEqual([]);
    expect(packMessages([Buffer.alloc(0), Buffer.from('a'), Buffer.alloc(0)], 4).map(String)).toEqual(['a']);
  });
});
