// redis-server killed (-9) under load and started again by the launcher on
// the same port and data (AOF with appendfsync always): nothing acknowledged
// is lost and no seq is used twice; every acknowledged message is seen
// exactly once, in seq order.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster, underLoad } from './fault_support.mjs';

test('redis-server killed and restarted under load', async (t) => {
  const server = await startCluster();
  t.after(() => server.dispose());
  assert.equal(server.clusterInfo().appendfsync, 'always');
  const before = server.processes('redis')[0];
  await underLoad(server, async () => {
    const t0 = Date.now();
    await server.control('restart', 'redis', { signal: 'KILL' });
    return t0;
  }, { what: 'redis-server kill -9 and restart' });
  const after = server.processes('redis')[0];
  assert.notEqual(after.pid, before.pid);
  assert.equal(after.listen, before.listen);
});
