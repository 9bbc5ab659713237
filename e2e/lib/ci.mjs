// Whether the tests run under CI, as CI systems say so: $CI set to "true"
// (GitHub Actions, GitLab CI and most others) or "1" (some others). Under CI
// a test that cannot run its part here fails; on a developer's machine it is
// skipped, and says why.

const value = (process.env.CI ?? '').trim().toLowerCase();

/** True when $CI is 1, true or yes (any case). */
export const IN_CI = value === '1' || value === 'true' || value === 'yes';

/**
 * For a test that needs something this machine may lack (root, iptables):
 * `problem` says what is missing, or is null when nothing is. Returns the
 * options for test() (skipped, with the reason, outside CI) and a check that
 * the test body runs first (fails it, with the reason, under CI).
 */
export function needs(what, problem) {
  if (problem && !IN_CI) {
    console.log(`${what} skipped: ${problem}. Under CI (CI=1 or CI=true) it fails instead.`);
  }
  return {
    options: { skip: problem && !IN_CI ? `${what}: ${problem}` : false },
    check() {
      if (problem) throw new Error(`${what} cannot run under CI=${process.env.CI}: ${problem}`);
    },
  };
}
