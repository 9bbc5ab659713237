// make netbench: the bad-network profiles (lib/netbench.mjs), each through
// meetd and as a direct browser-to-browser call, and the table of figures.
//
//   node netbench.mjs [-profiles step-down,loss] [-modes meetd,direct] [-json out.json] [-- meetd flags]
//
// Needs root (network namespaces), bin/meetd and bin/netshape. One run is
// about a minute (warm-up on the clear link, then the profile's 40 s); all
// ten about ten minutes.

import { writeFileSync } from 'node:fs';
import { PROFILES, runProfile, summarize, table } from './lib/netbench.mjs';
import { netemProblem } from './lib/netem.mjs';

const args = process.argv.slice(2);
const dash = args.indexOf('--');
const meetdArgs = dash >= 0 ? args.splice(dash).slice(1) : [];
const opt = (name, def) => {
  const i = args.indexOf(`-${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const profiles = opt('profiles', Object.keys(PROFILES).join(',')).split(',');
const modes = opt('modes', 'meetd,direct').split(',');
const jsonOut = opt('json', null);
/** Where to write each run's meetd output (none: not kept). */
const logDir = opt('logs', null);

const problem = netemProblem();
if (problem) {
  console.error(`netbench: ${problem}`);
  process.exit(1);
}

// Playwright closes its browsers on a signal but would let the runs go on:
// end the process, whose exit handlers remove the namespaces and stop meetd.
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(130));

const log = (line) => console.error(`${new Date().toISOString().slice(11, 19)} ${line}`);
const rows = [];
const runs = [];
for (const name of profiles) {
  for (const mode of modes) {
    log(`${name} (${PROFILES[name]?.title}) through ${mode}…`);
    try {
      const run = await runProfile(mode, name, { log, meetdArgs });
      const row = summarize(run);
      rows.push(row);
      if (logDir && run.meetdLog) writeFileSync(`${logDir}/${name}-${mode}.log`, run.meetdLog);
      runs.push({ ...run, meetdLog: undefined });
      log(`  ${table([row]).split('\n')[2]}`);
      if (jsonOut) writeFileSync(jsonOut, JSON.stringify({ rows, runs }, null, 1));
      log(`  widths: ${row.widths}`);
      if (row.layers) log(`  meetd layer: ${row.layers}`);
      if (row.freezesAt) log(`  freezes: ${row.freezesAt}`);
      if (run.senderAudioLost?.length) log(`  the streamer's audio, fraction lost it was told: ${run.senderAudioLost.join(' ')}`);
    } catch (err) {
      log(`  failed: ${err.stack}`);
      process.exitCode = 1;
    }
  }
}
console.log(table(rows));
if (jsonOut) writeFileSync(jsonOut, JSON.stringify({ rows, runs }, null, 1));
