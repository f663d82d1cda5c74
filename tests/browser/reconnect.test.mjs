// The server restarts while a page is open. The page notices, shows that it
// is offline, reconnects by itself (backoff and jitter), and then shows,
// exactly once and in order, both what the other user sent meanwhile over
// HTTP (learned from hello, fetched with sync) and what this user wrote
// while offline (resent with its original client id).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { newUser, httpSend, fullHistory, privateConv } from '../support/parley_server.mjs';
import {
  startWebServer, launchBrowser, openClient, closeClient, assertNoConsoleErrors, loginInUi,
  startChatInUi, sendInUi, messageItem, shownMessages, waitForState, waitOnline, connectionStatus,
  assertEventually, restartOnSamePort, screenshot, CONNECTION_REFUSED,
} from './browser_support.mjs';

let server;
let browser;

before(async () => {
  server = await startWebServer();
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await server?.dispose();
});

test('the page reconnects after a server restart and misses nothing', async () => {
  const alice = await newUser(server.baseUrl, 'ra');
  const bob = await newUser(server.baseUrl, 'rb');
  const client = await openClient(browser, server.baseUrl, { name: 'alice' });
  const { page } = client;
  try {
    await loginInUi(page, alice.username);
    await startChatInUi(page, bob.username);
    await sendInUi(page, 'before the restart');
    await waitForState(page, 'before the restart', 'sent');
    await httpSend(server.baseUrl, bob.token, { to_user: alice.user_id }, 'bob before the restart');
    await messageItem(page, 'bob before the restart').waitFor();

    // Outage 1. Hold the page's way back in (it asks /api/v1/endpoints
    // before opening a socket) until Bob has written, so that what he writes
    // can only reach the page through hello and sync, not as live pushes.
    let restart = await restartOnSamePort(server);
    await assertEventually(async () => /^Offline/.test(await connectionStatus(page).textContent()),
      'the page to show that it is offline');
    let release;
    const gate = new Promise((resolve) => { release = resolve; });
    await page.route('**/api/v1/endpoints', async (route) => {
      await gate;
      await route.continue();
    });
    await restart.start();
    const during = ['during the outage 1', 'during the outage 2', 'during the outage 3'];
    for (const body of during) await httpSend(server.baseUrl, bob.token, { to_user: alice.user_id }, body);
    assert.notEqual(await connectionStatus(page).textContent(), 'Online', 'the page came back too early');
    release();
    await waitOnline(page);
    for (const body of during) await messageItem(page, body).waitFor();
    await page.unroute('**/api/v1/endpoints');

    // Outage 2: what Alice writes meanwhile waits, then goes out once.
    restart = await restartOnSamePort(server);
    await assertEventually(async () => /^Offline/.test(await connectionStatus(page).textContent()),
      'the page to show that it is offline again');
    await sendInUi(page, 'written while offline');
    await waitForState(page, 'written while offline', 'sending');
    await screenshot(page, 'offline');
    await restart.start();
    await waitOnline(page);
    await waitForState(page, 'written while offline', 'sent');
    await sendInUi(page, 'after the restart');
    await waitForState(page, 'after the restart', 'sent');

    // Once each, in seq order, matching the server's history.
    const shown = await shownMessages(page);
    const history = await fullHistory(server.baseUrl, alice.token, privateConv(alice.user_id, bob.user_id));
    assert.deepEqual(shown.map((m) => [m.seq, m.body]), history.map((m) => [m.seq, m.body]));
    assert.deepEqual(shown.map((m) => m.seq), [1, 2, 3, 4, 5, 6, 7]);
    assert.deepEqual(shown.slice(2, 5).map((m) => m.body), during);
    assert.equal(history.filter((m) => m.body === 'written while offline').length, 1);
    assert.equal(shown.at(-1).body, 'after the restart');

    assertNoConsoleErrors(client, CONNECTION_REFUSED);
  } finally {
    await closeClient(client);
  }
});
