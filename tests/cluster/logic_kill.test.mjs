// kill -9 of a logic node under load: sends in flight on it fail or go
// unanswered, clients resend them with the same id, the other logic node
// answers; every acknowledged message is seen exactly once, in seq order.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster, underLoad } from './fault_support.mjs';

test('kill -9 a logic node under load', async (t) => {
  const server = await startCluster();
  t.after(() => server.dispose());
  assert.ok(server.processes('logic').length >= 2, 'two logic nodes at least');
  await underLoad(server, async () => {
    const t0 = Date.now();
    process.kill(server.processes('logic')[0].pid, 'SIGKILL');
    return t0;
  }, { what: 'kill -9 logic-1' });
});
