import { describe, expect, it } from '@jest/globals';
import { utf8Bytes } from '../../src/api/bounds';

describe('utf8Bytes', () => {
  it.each([
    ['', 0],
    ['abc', 3],
    ['é', 2],
    ['中文', 6],
    ['😀', 4],
    ['a😀b', 6],
    ['\ud800', 3], // a lone surrogate is encoded as U+FFFD: 3 bytes
  ])('%j is %i bytes, as Buffer counts them', (text, bytes) => {
    expect(utf8Bytes(text)).toBe(bytes);
    expect(utf8Bytes(text)).toBe(Buffer.byteLength(text, 'utf8'));
  });

  it('counts what a payload of JSON carries', () => {
    const json = JSON.stringify({ text: '東京 🚀 '.repeat(1000) });
    expect(utf8Bytes(json)).toBe(Buffer.byteLength(json, 'utf8'));
  });
});
