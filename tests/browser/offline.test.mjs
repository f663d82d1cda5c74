// A user who was offline logs in and finds everything sent meanwhile, in
// order: the newest page first, then older pages by scrolling back
// (before_seq paging) up to the start of the conversation.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { newUser, httpSend } from '../support/parley_server.mjs';
import {
  startWebServer, launchBrowser, openClient, closeClient, assertNoConsoleErrors, loginInUi,
  startChatInUi, sendInUi, openConversation, conversationButton, messageItem, messageLog,
  shownMessages, waitForState, assertEventually, screenshot,
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

test('messages sent while a user was offline appear after login, in order', async () => {
  const alice = await newUser(server.baseUrl, 'oa');
  const bob = await newUser(server.baseUrl, 'ob');
  const aliceClient = await openClient(browser, server.baseUrl, { name: 'alice' });
  let bobClient;
  try {
    // Alice writes a long backlog (more than two pages) while Bob is away:
    // most over HTTP, the last ones in the browser.
    const backlog = [];
    for (let i = 1; i <= 118; i++) backlog.push(`backlog message ${String(i).padStart(3, '0')}`);
    for (const body of backlog) await httpSend(server.baseUrl, alice.token, { to_user: bob.user_id }, body);
    await loginInUi(aliceClient.page, alice.username);
    await startChatInUi(aliceClient.page, bob.username);
    for (const body of ['are you back yet?', 'ping me when you are']) {
      backlog.push(body);
      await sendInUi(aliceClient.page, body);
    }
    await waitForState(aliceClient.page, 'ping me when you are', 'sent');

    // Bob logs in.
    bobClient = await openClient(browser, server.baseUrl, { name: 'bob' });
    await loginInUi(bobClient.page, bob.username);
    const title = alice.username;  // Bob's client looks her id up
    const entry = conversationButton(bobClient.page, title);
    await assertEventually(async () => (await entry.getAttribute('aria-label')) === `${title}, 120 unread`,
      '120 unread in Bob\'s list');
    await assertEventually(async () =>
      (await bobClient.page.locator('#conversation-list .conversation-preview').first().textContent()) ===
        'ping me when you are', 'the last message as the preview');

    await openConversation(bobClient.page, title);
    await messageItem(bobClient.page, 'ping me when you are').waitFor();
    let shown = await shownMessages(bobClient.page);
    assert.ok(shown.length < backlog.length, 'the first view is the newest page, not everything');
    assertContiguous(shown, backlog);

    // Scrolling up loads the older pages until the start of the conversation.
    const log = messageLog(bobClient.page);
    const start = bobClient.page.getByText('This is the start of the conversation.');
    await assertEventually(async () => {
      await log.evaluate((el) => { el.scrollTop = 0; });
      return start.isVisible();
    }, 'the start of the conversation after scrolling back');
    shown = await shownMessages(bobClient.page);
    assert.equal(shown.length, backlog.length);
    assertContiguous(shown, backlog);
    await screenshot(bobClient.page, 'history-scrolled-back');

    // Opening the chat read it all: Alice sees her last message read.
    await waitForState(aliceClient.page, 'ping me when you are', 'read');

    assertNoConsoleErrors(aliceClient);
    assertNoConsoleErrors(bobClient);
  } finally {
    await closeClient(aliceClient);
    if (bobClient) await closeClient(bobClient);
  }
});

// The shown messages are the tail of `bodies` with seqs counting up by one.
function assertContiguous(shown, bodies) {
  const first = shown[0].seq;
  assert.equal(shown.at(-1).seq, bodies.length);
  shown.forEach((m, i) => {
    assert.equal(m.seq, first + i, `seq at position ${i}`);
    assert.equal(m.body, bodies[m.seq - 1], `body of seq ${m.seq}`);
  });
}
