// Waiting on a condition with a deadline: the only kind of wait the browser
// tests use. A fixed sleep that hopes the server (or a busy machine) was fast
// enough fails now and then; a poll of the real condition does not.

/** How long a check waits by default before it fails with what it last saw. */
export const WAIT_MS = 15_000;

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Polls check() (sync or async) every `every` ms until it returns a truthy
 * value that is not `{ ok: false, ... }`, and returns that value. Fails after
 * `within` ms with `what` and the last value (or error) seen.
 */
export async function waitUntil(what, check, { within = WAIT_MS, every = 150 } = {}) {
  const deadline = Date.now() + within;
  let last;
  for (;;) {
    try {
      last = await check();
      if (last && last.ok !== false) return last;
    } catch (e) {
      last = `error: ${e.message.split('\n')[0]}`;
    }
    if (Date.now() >= deadline) break;
    await sleep(every);
  }
  throw new Error(`${what} within ${within} ms; last seen ${JSON.stringify(last)}`);
}
