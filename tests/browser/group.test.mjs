// A group of three in three browser contexts: a message reaches the other
// two live; read receipts count readers; a member is added; a member leaves.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { uniqueName, api, register, newUser, createGroup, httpSend } from '../support/parley_server.mjs';
import {
  startWebServer, launchBrowser, openClient, closeClient, assertNoConsoleErrors, registerInUi,
  createGroupInUi, sendInUi, openConversation, conversationButton, messageItem, shownMessages,
  waitForState, assertEventually, screenshot, assertControlsNamed, PASSWORD,
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

test('a group of three: a message reaches the other two', async () => {
  const names = { alice: uniqueName('ga'), bob: uniqueName('gb'), carol: uniqueName('gc') };
  const clients = {};
  for (const who of Object.keys(names)) {
    clients[who] = await openClient(browser, server.baseUrl, { name: who });
  }
  const { alice, bob, carol } = clients;
  const dave = uniqueName('gd');
  try {
    for (const who of Object.keys(names)) await registerInUi(clients[who].page, names[who]);
    await api(server.baseUrl, 'POST', '/api/v1/users', { username: dave, password: PASSWORD });

    await createGroupInUi(alice.page, 'Weekend plans', [names.bob, names.carol]);
    await alice.page.getByRole('heading', { level: 2, name: 'Weekend plans' }).waitFor();
    await waitForMembers(alice.page, ['you', names.bob, names.carol]);
    await sendInUi(alice.page, 'Hiking on Saturday?');
    await waitForState(alice.page, 'Hiking on Saturday?', 'sent');

    // Both others get it live: the group shows up in their lists, unread.
    for (const member of [bob, carol]) {
      const entry = conversationButton(member.page, 'Weekend plans');
      await assertEventually(async () => (await entry.getAttribute('aria-label')) === 'Weekend plans, 1 unread',
        `the group with one unread message in ${member.name}'s list`);
    }

    await openConversation(bob.page, 'Weekend plans');
    await messageItem(bob.page, 'Hiking on Saturday?').waitFor();
    await assertEventually(async () =>
      (await messageItem(alice.page, 'Hiking on Saturday?').locator('.delivery-state').textContent()) === 'Read by 1',
    'read by one reader');
    await openConversation(carol.page, 'Weekend plans');
    await messageItem(carol.page, 'Hiking on Saturday?').waitFor();
    await assertEventually(async () =>
      (await messageItem(alice.page, 'Hiking on Saturday?').locator('.delivery-state').textContent()) === 'Read by 2',
    'read by both readers');

    // Replies reach everyone, in the same order.
    await sendInUi(bob.page, 'Yes! Early start?');
    await messageItem(carol.page, 'Early start?').waitFor();
    await messageItem(alice.page, 'Early start?').waitFor();
    await sendInUi(carol.page, 'I will bring snacks.');
    for (const member of [alice, bob]) await messageItem(member.page, 'snacks').waitFor();
    const bodies = ['Hiking on Saturday?', 'Yes! Early start?', 'I will bring snacks.'];
    for (const member of [alice, bob, carol]) {
      const shown = await shownMessages(member.page);
      assert.deepEqual(shown.map((m) => [m.seq, m.body]), bodies.map((b, i) => [i + 1, b]), member.name);
    }
    // Bob never looked Alice or Carol up; their names came by their ids.
    await waitForMembers(bob.page, [names.alice, 'you', names.carol]);
    const bobShown = await shownMessages(bob.page);
    assert.deepEqual(bobShown.map((m) => m.sender), [names.alice, 'You', names.carol]);
    await screenshot(alice.page, 'group-chat');
    await assertControlsNamed(alice.page);

    // Alice adds Dave; Carol leaves.
    await alice.page.getByRole('button', { name: 'Add member' }).click();
    const addDialog = alice.page.getByRole('dialog', { name: 'Add a member' });
    await addDialog.getByLabel('Username to add').fill(dave);
    await assertControlsNamed(alice.page);
    await addDialog.getByRole('button', { name: 'Add' }).click();
    await addDialog.waitFor({ state: 'hidden' });
    await waitForMembers(alice.page, ['you', names.bob, names.carol, dave]);

    await carol.page.getByRole('button', { name: 'Leave group' }).click();
    const leaveDialog = carol.page.getByRole('dialog', { name: 'Leave Weekend plans?' });
    await leaveDialog.getByRole('button', { name: 'Leave' }).click();
    await conversationButton(carol.page, 'Weekend plans').waitFor({ state: 'detached' });

    await sendInUi(alice.page, 'Welcome, Dave.');
    await messageItem(bob.page, 'Welcome, Dave.').waitFor();
    // Carol is out: nothing new arrives for her.
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(await conversationButton(carol.page, 'Weekend plans').count(), 0);

    for (const c of [alice, bob, carol]) assertNoConsoleErrors(c);
  } finally {
    for (const c of Object.values(clients)) await closeClient(c);
  }
});

test('a large group: each member\'s name is looked up once, a few at a time', async () => {
  const owner = await newUser(server.baseUrl, 'lo');
  const others = [];
  for (let i = 0; i < 16; i++) others.push(await register(server.baseUrl, uniqueName(`lm${i}`)));
  const bobName = uniqueName('lb');
  const bob = await openClient(browser, server.baseUrl, { name: 'bob' });
  const lookups = watchUserLookups(bob.page);
  try {
    await registerInUi(bob.page, bobName);
    const bobId = await idOf(bobName);
    const group = await createGroup(server.baseUrl, owner.token, 'Big crowd',
      [bobId, ...others.map((u) => u.user_id)]);
    await httpSend(server.baseUrl, owner.token, { to_group: group.group_id }, 'Welcome, all of you!');

    // Bob never looked anyone up: the sender's name shows in his list...
    const entry = conversationButton(bob.page, 'Big crowd');
    await assertEventually(async () =>
      (await entry.locator('.conversation-preview').textContent()) === `${owner.username}: Welcome, all of you!`,
    'the sender\'s name in the preview');
    // ... and on the message, and every member's name in the header.
    await openConversation(bob.page, 'Big crowd');
    await waitForMembers(bob.page, ['you', owner.username, ...others.map((u) => u.username)]);
    assert.deepEqual((await shownMessages(bob.page)).map((m) => [m.sender, m.body]),
      [[owner.username, 'Welcome, all of you!']]);

    const expected = [owner.user_id, ...others.map((u) => u.user_id)].sort((a, b) => a - b);
    assert.deepEqual([...lookups.ids].sort((a, b) => a - b), expected, 'one lookup per member');
    assert.ok(lookups.maxInFlight <= 4, `at most 4 lookups at once, saw ${lookups.maxInFlight}`);

    // Remembered across a reload: no lookup at all.
    lookups.ids.length = 0;
    await bob.page.reload();
    await openConversation(bob.page, 'Big crowd');
    await waitForMembers(bob.page, ['you', owner.username, ...others.map((u) => u.username)]);
    await messageItem(bob.page, 'Welcome, all of you!').waitFor();
    assert.deepEqual(lookups.ids, []);
    assertNoConsoleErrors(bob);
  } finally {
    await closeClient(bob);
  }
});

// The user ids the page asks GET /api/v1/users/{id} for, and the most such
// requests open at once.
function watchUserLookups(page) {
  const watch = { ids: [], open: 0, maxInFlight: 0 };
  const isLookup = (request) =>
    request.method() === 'GET' && /^\/api\/v1\/users\/\d+$/.test(new URL(request.url()).pathname);
  page.on('request', (request) => {
    if (!isLookup(request)) return;
    watch.ids.push(Number(new URL(request.url()).pathname.split('/').pop()));
    watch.maxInFlight = Math.max(watch.maxInFlight, ++watch.open);
  });
  for (const done of ['requestfinished', 'requestfailed']) {
    page.on(done, (request) => {
      if (isLookup(request)) watch.open--;
    });
  }
  return watch;
}

async function idOf(username) {
  const s = await api(server.baseUrl, 'POST', '/api/v1/sessions', { username, password: PASSWORD });
  assert.equal(s.status, 200, s.text);
  return s.json.user_id;
}

// The chat header lists the members (in the server's order).
async function waitForMembers(page, expected) {
  const subtitle = page.locator('#chat-subtitle');
  await assertEventually(async () => {
    const m = /^(\d+) members: (.*)$/.exec((await subtitle.textContent()) ?? '');
    return m && Number(m[1]) === expected.length &&
      JSON.stringify(m[2].split(', ').sort()) === JSON.stringify([...expected].sort());
  }, `members ${expected.join(', ')}`);
}
