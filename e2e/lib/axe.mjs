// An automated accessibility scan with axe-core, injected into the page.

import assert from 'node:assert/strict';
import { createRequire } from 'node:module';

const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

/** Fails on any serious or critical axe-core violation on the user's page as it is now. */
export async function expectAccessible(user, what) {
  await user.page.addScriptTag({ path: AXE });
  const found = await user.page.evaluate(async () => {
    const result = await window.axe.run(document);
    return result.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => ({
        id: v.id,
        impact: v.impact,
        help: v.help,
        nodes: v.nodes.slice(0, 6).map((n) => `${n.target.join(' ')}: ${(n.failureSummary ?? '').split('\n').slice(1).join(' ')}`),
      }));
  });
  assert.deepEqual(found, [], `${user.label} on ${what}: axe-core finds serious or critical violations`);
}
