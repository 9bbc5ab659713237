// How many people of a scrolling strip are out of sight past its end.

/**
 * ends: where each item ends (bottom or right edge), in the strip's order;
 * edge: where the strip's visible part ends. An item counts as hidden when
 * more than a few pixels of it lie past the edge.
 */
export function hiddenAfter(ends: readonly number[], edge: number, slack = 4): number {
  return ends.filter((e) => e > edge + slack).length;
}
