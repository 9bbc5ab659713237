import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { AVATAR_HUES } from '../components/avatar';

/** WCAG relative luminance of an sRGB colour given as HSL (h in degrees, s and l 0–1). */
function luminance(h: number, s: number, l: number): number {
  const k = (n: number) => (n + h / 30) % 12;
  const a = s * Math.min(l, 1 - l);
  const f = (n: number) => l - a * Math.max(-1, Math.min(k(n) - 3, 9 - k(n), 1));
  const lin = (c: number) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
  return 0.2126 * lin(f(0)) + 0.7152 * lin(f(8)) + 0.0722 * lin(f(4));
}

describe('avatar colours', () => {
  it('keep white initials at 4.5:1 or more on every hue', () => {
    const css = readFileSync(path.resolve(__dirname, '../styles/call.css'), 'utf8');
    const m = /background: hsl\(var\(--hue\) (\d+)% (\d+)%\)/.exec(css);
    expect(m).not.toBeNull();
    const [s, l] = [Number(m![1]) / 100, Number(m![2]) / 100];
    for (const h of AVATAR_HUES) expect(1.05 / (luminance(h, s, l) + 0.05), `hue ${h}`).toBeGreaterThanOrEqual(4.5);
  });
});
