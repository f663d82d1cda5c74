// kill -9 of a task node under load: the live task node takes over its
// partitions and its pending entries, so pushes resume and persistence goes
// on; every acknowledged message is seen exactly once, in seq order.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster, underLoad } from './fault_support.mjs';

test('kill -9 a task node under load', async (t) => {
  const server = await startCluster();
  t.after(() => server.dispose());
  assert.ok(server.processes('task').length >= 2, 'two task nodes at least');
  await underLoad(server, async () => {
    const t0 = Date.now();
    process.kill(server.processes('task')[0].pid, 'SIGKILL');
    return t0;
  }, { what: 'kill -9 task-1' });
});
