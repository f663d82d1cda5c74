// Two people chat in two browser contexts: each sees the other's messages
// live (no reload), and delivery states go sent -> read as the other reads.
// Also takes the screenshots of the main screens (and the README's one).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { uniqueName, api } from '../support/parley_server.mjs';
import {
  startWebServer, launchBrowser, openClient, closeClient, assertNoConsoleErrors, registerInUi,
  startChatInUi, sendInUi, openConversation, conversationButton, messageItem, shownMessages,
  waitForState, assertEventually, screenshot, publishScreenshot, composer, assertControlsNamed, PHONE,
  PASSWORD,
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

async function userId(username) {
  // Any logged-in user may look a name up; log in as that user for it.
  const session = await api(server.baseUrl, 'POST', '/api/v1/sessions', { username, password: PASSWORD });
  assert.equal(session.status, 200, session.text);
  return session.json.user_id;
}

test('two users chat both ways; live delivery; sent then read', async () => {
  // Plain names (this server is new) make a readable README screenshot.
  const aliceName = 'alice';
  const bobName = 'bob';
  const alice = await openClient(browser, server.baseUrl, { name: 'alice' });
  const bob = await openClient(browser, server.baseUrl, { name: 'bob' });
  try {
    await screenshot(alice.page, 'login');
    await assertControlsNamed(alice.page);
    await registerInUi(alice.page, aliceName);
    await registerInUi(bob.page, bobName);
    const aliceId = await userId(aliceName);
    const bobId = await userId(bobName);
    const aliceLookups = countUserLookups(alice.page);
    const bobLookups = countUserLookups(bob.page);

    // Alice starts the chat by username and writes; Bob is looking at his list.
    await startChatInUi(alice.page, bobName);
    await sendInUi(alice.page, 'Hi Bob! Are you there?');
    await waitForState(alice.page, 'Hi Bob! Are you there?', 'sent');
    await sendInUi(alice.page, 'Second line,\nwith a newline.');
    await waitForState(alice.page, 'with a newline.', 'sent');

    // Bob sees the conversation appear, with two unread, without reloading.
    // He never looked Alice up: the client asks the server who user #N is
    // and shows her name.
    const aliceTitle = aliceName;
    const bobsEntry = conversationButton(bob.page, aliceTitle);
    await assertEventually(async () => (await bobsEntry.getAttribute('aria-label')) === `${aliceTitle}, 2 unread`,
      'two unread messages in Bob\'s list');
    assert.equal(await bob.page.getByText(`user #${aliceId}`).count(), 0, 'no id left on Bob\'s screen');
    await screenshot(bob.page, 'conversation-list');
    // Not opened yet: still only sent.
    assert.equal(await messageItem(alice.page, 'Hi Bob!').getAttribute('data-state'), 'sent');

    await openConversation(bob.page, aliceTitle);
    await messageItem(bob.page, 'Hi Bob! Are you there?').waitFor();
    assert.equal(await bobsEntry.getAttribute('aria-label'), aliceTitle, 'unread count cleared');
    // Bob read them, so Alice sees both as read.
    await waitForState(alice.page, 'Hi Bob! Are you there?', 'read');
    await waitForState(alice.page, 'with a newline.', 'read');
    assert.equal(await messageItem(alice.page, 'Hi Bob!').locator('.delivery-state').textContent(), 'Read');

    // Bob answers; Shift+Enter makes a newline, Enter sends.
    const box = composer(bob.page);
    await box.fill('Yes, here.');
    await box.press('Shift+Enter');
    await box.pressSequentially('What is up?');
    await box.press('Enter');
    await messageItem(alice.page, 'What is up?').waitFor();
    // Alice has the chat open, so her read receipt turns Bob's message read.
    await waitForState(bob.page, 'What is up?', 'read');

    const aliceView = await shownMessages(alice.page);
    assert.deepEqual(aliceView.map((m) => [m.seq, m.sender, m.body]), [
      [1, 'You', 'Hi Bob! Are you there?'],
      [2, 'You', 'Second line,\nwith a newline.'],
      [3, bobName, 'Yes, here.\nWhat is up?'],
    ]);
    const bobView = await shownMessages(bob.page);
    assert.deepEqual(bobView.map((m) => [m.seq, m.sender, m.body, m.state]), [
      [1, aliceTitle, 'Hi Bob! Are you there?', null],
      [2, aliceTitle, 'Second line,\nwith a newline.', null],
      [3, 'You', 'Yes, here.\nWhat is up?', 'read'],
    ]);

    // A few more lines for a representative picture.
    await sendInUi(alice.page, 'Lunch at noon? The new place on 5th street does great noodles.');
    await messageItem(bob.page, 'great noodles').waitFor();
    await sendInUi(bob.page, 'Sounds good, see you there!');
    await messageItem(alice.page, 'see you there').waitFor();
    await waitForState(bob.page, 'see you there', 'read');
    const chatShot = await screenshot(alice.page, 'chat');
    await assertControlsNamed(alice.page);
    await assertControlsNamed(bob.page);
    await publishScreenshot(chatShot);

    // One lookup of Alice's id by Bob however many messages named her; none
    // by Alice, who found Bob by his name.
    assert.deepEqual(bobLookups, [aliceId], 'Bob looked Alice up once');
    assert.deepEqual(aliceLookups, [], 'Alice knew Bob\'s name already');
    assert.ok(!bobLookups.includes(bobId));

    // The body limit is shown and enforced before sending.
    await composer(alice.page).fill('x'.repeat(4097));
    await alice.page.getByText('4097 / 4096 bytes: too long').waitFor();
    assert.equal(await alice.page.getByRole('button', { name: 'Send' }).isDisabled(), true);
    await composer(alice.page).fill('');

    // After a reload the session and the history are still there.
    await alice.page.reload();
    await openConversation(alice.page, bobName);
    await messageItem(alice.page, 'see you there').waitFor();
    const reloaded = await shownMessages(alice.page);
    assert.deepEqual(reloaded.map((m) => m.seq), [1, 2, 3, 4, 5]);
    assert.equal(reloaded[0].state, 'read', 'read receipts are remembered across a reload');

    // Bob's client remembers Alice's name across a reload: no new lookup.
    await bob.page.reload();
    await openConversation(bob.page, aliceTitle);
    await messageItem(bob.page, 'see you there').waitFor();
    assert.equal((await shownMessages(bob.page))[0].sender, aliceName);
    assert.deepEqual(bobLookups, [aliceId], 'the name came from the cache');

    assertNoConsoleErrors(alice);
    assertNoConsoleErrors(bob);
  } finally {
    await closeClient(alice);
    await closeClient(bob);
  }
});

// The user ids the page looks up by GET /api/v1/users/{id}, as they are asked.
function countUserLookups(page) {
  const ids = [];
  page.on('request', (request) => {
    const m = /\/api\/v1\/users\/(\d+)$/.exec(new URL(request.url()).pathname);
    if (m && request.method() === 'GET') ids.push(Number(m[1]));
  });
  return ids;
}

test('phone-sized screen: list and chat take turns; back returns to the list', async () => {
  const aliceName = uniqueName('pa');
  const bobName = uniqueName('pb');
  const phone = await openClient(browser, server.baseUrl, { name: 'phone', viewport: PHONE });
  try {
    await api(server.baseUrl, 'POST', '/api/v1/users', { username: bobName, password: PASSWORD });
    await registerInUi(phone.page, aliceName);
    await startChatInUi(phone.page, bobName);
    await sendInUi(phone.page, 'Typed on a phone');
    await waitForState(phone.page, 'Typed on a phone', 'sent');
    // The list is out of the way while the chat is open.
    assert.equal(await phone.page.getByRole('button', { name: 'New chat' }).isVisible(), false);
    await screenshot(phone.page, 'chat-phone');
    await assertControlsNamed(phone.page);
    await phone.page.getByRole('button', { name: 'Back to conversations' }).click();
    await conversationButton(phone.page, bobName).waitFor();
    assert.equal(await composer(phone.page).isVisible(), false);
    await screenshot(phone.page, 'conversation-list-phone');
    assertNoConsoleErrors(phone);
  } finally {
    await closeClient(phone);
  }
});
