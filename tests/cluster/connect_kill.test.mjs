// kill -9 of a connect node under load: its clients see their connection
// drop, reconnect through /api/v1/endpoints to a live node and sync; every
// acknowledged message is seen exactly once, in seq order.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster, underLoad } from './fault_support.mjs';

test('kill -9 a connect node under load', async (t) => {
  const server = await startCluster();
  t.after(() => server.dispose());
  const direct = server.processes('connect').map((p) => `ws://${p.listen}/ws`);
  assert.ok(direct.length >= 2, 'two connect nodes at least');
  let moved = [];
  await underLoad(server, async (w) => {
    const victim = server.processes('connect')[0];
    moved = w.clients.filter((c) => c.url === `ws://${victim.listen}/ws`);
    assert.ok(moved.length > 0, 'some clients sit on the victim');
    const t0 = Date.now();
    process.kill(victim.pid, 'SIGKILL');
    return t0;
  }, {
    what: 'kill -9 connect-1',
    // Half of the clients straight on each connect node, so the victim has some.
    workload: { firstUrl: (i) => direct[i % direct.length] },
  });
  for (const c of moved) assert.ok(c.reconnects >= 1, `${c.label} reconnected`);
});
