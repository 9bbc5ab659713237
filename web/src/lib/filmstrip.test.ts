import { describe, expect, it } from 'vitest';
import { hiddenAfter } from './filmstrip';

describe('the filmstrip', () => {
  it('counts the people out of sight past its end', () => {
    expect(hiddenAfter([100, 200, 300], 400)).toBe(0);
    expect(hiddenAfter([100, 200, 300, 400, 500], 250)).toBe(3);
    expect(hiddenAfter([100, 202], 200)).toBe(0); // a sliver past the edge is not hidden
  });
});
