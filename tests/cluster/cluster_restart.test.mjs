// The whole cluster killed at once (SIGKILL of the launcher's process group)
// under load, and started again on the same data dir: clients reconnect to
// the new cluster and sync; nothing acknowledged is lost, no seq is used
// twice, every acknowledged message is seen exactly once, in seq order.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster, underLoad } from './fault_support.mjs';

test('the whole cluster killed and restarted on the same data', async (t) => {
  const server = await startCluster();
  t.after(() => server.dispose());
  await underLoad(server, async () => {
    const t0 = Date.now();
    await server.kill();
    await server.start();
    return t0;
  }, { what: 'kill -9 of the whole cluster, then run on the same data' });
  // The dead processes' etcd leases were revoked, not waited out: no process
  // of the second run found its node id still taken.
  const launcherLog = server.stderr.text;
  assert.match(launcherLog, /revoked \d+ etcd leases left by the processes of the previous run/);
  assert.doesNotMatch(launcherLog, /still held by a dead process's lease/);
});
