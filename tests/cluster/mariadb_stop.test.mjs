// MariaDB frozen (SIGSTOP) for 10 s under load: its connections hang rather
// than fail. Sends keep being acknowledged from Redis, the persist group
// backs up and catches up after SIGCONT; every acknowledged message is seen
// exactly once, in seq order, and the history has them all.

import { test } from 'node:test';
import { startCluster, underLoad, sleep } from './fault_support.mjs';

const OUTAGE_MS = 10_000;

test('mariadbd stopped for 10 s under load', async (t) => {
  const server = await startCluster();
  const { pid } = server.processes('mariadb')[0];
  let resumed = false;
  t.after(() => {
    if (!resumed) process.kill(pid, 'SIGCONT'); // a failed test must not leave it frozen
    return server.dispose();
  });
  await underLoad(server, async (w) => {
    const ackedBefore = w.clients.reduce((s, c) => s + c.acks.size, 0);
    process.kill(pid, 'SIGSTOP');
    await sleep(OUTAGE_MS);
    const ackedDuring = w.clients.reduce((s, c) => s + c.acks.size, 0) - ackedBefore;
    console.log(`acked_during_outage=${ackedDuring}`);
    const t0 = Date.now();
    process.kill(pid, 'SIGCONT');
    resumed = true;
    return t0;
  }, { what: 'mariadbd resumed after 10 s stopped' });
});
