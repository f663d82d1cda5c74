// Helpers for the browser tests: Debian's chromium driven by playwright-core,
// a real `parley serve` serving this repository's web/ folder, and the
// user-level steps (register, log in, open a chat, send) done the way a
// person does them: by role and accessible name.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startParley, DEFAULT_TIMEOUT_MS } from '../support/parley_server.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(here, '..', '..');
export const WEB_ROOT = path.join(REPO_ROOT, 'web');
export const ARTIFACTS = process.env.PARLEY_ARTIFACTS || path.join(REPO_ROOT, 'build', 'artifacts');
export const TIMEOUT = DEFAULT_TIMEOUT_MS;
export const PASSWORD = 'correct horse';

// A server that serves the web client from this checkout.
export function startWebServer(options = {}) {
  return startParley({ ...options, args: ['--web-root', WEB_ROOT, ...(options.args ?? [])] });
}

export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.PARLEY_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--no-first-run', '--disable-sync', '--disable-quic'],
  });
}

export const DESKTOP = { width: 1200, height: 760 };
export const PHONE = { width: 390, height: 780 };

// One person: a fresh browser context (own storage) with one page, and every
// console error and uncaught exception of that page, for the final check.
export async function openClient(browser, baseUrl, { viewport = DESKTOP, name = 'client' } = {}) {
  const context = await browser.newContext({ viewport, baseURL: baseUrl });
  context.setDefaultTimeout(TIMEOUT);
  const page = await context.newPage();
  const client = { name, context, page, errors: [] };
  page.on('console', (msg) => {
    if (msg.type() === 'error') client.errors.push(`console: ${msg.text()}`);
  });
  page.on('pageerror', (err) => client.errors.push(`exception: ${err.stack || err.message}`));
  const response = await page.goto('/');
  // Every browser test runs the client under the server's Content-Security-
  // Policy: a violation is a console error, which assertNoConsoleErrors catches.
  assert.match(response.headers()['content-security-policy'] ?? '', /script-src 'self'/,
    'the web client is served with its Content-Security-Policy');
  return client;
}

// No console errors, except those matching `allowed` (network failures a
// test provokes on purpose, which the browser itself logs).
export function assertNoConsoleErrors(client, allowed = []) {
  const unexpected = client.errors.filter((e) => !allowed.some((re) => re.test(e)));
  assert.deepEqual(unexpected, [], `${client.name}: unexpected console errors`);
}

// The resource errors Chromium logs for an HTTP error status it received.
export function httpStatusError(status) {
  return new RegExp(`Failed to load resource: the server responded with a status of ${status}`);
}
// ... and for a server that is not there.
export const CONNECTION_REFUSED = [
  /Failed to load resource: net::ERR_CONNECTION_REFUSED/,
  /WebSocket connection to '.*' failed/,
];

// Every control in the accessibility tree has a name (a label or an
// aria-label), so that people using assistive technology, and these tests,
// can find it by role and name.
export async function assertControlsNamed(page) {
  const tree = await page.locator('body').ariaSnapshot();
  const unnamed = tree.split('\n').filter((line) =>
    /^\s*- (button|textbox|link|combobox|checkbox|radio|searchbox|spinbutton|slider|switch|tab|menuitem|option)\s*(\[.*\])?:?\s*$/.test(line));
  assert.deepEqual(unnamed, [], `controls without an accessible name in:\n${tree}`);
}

export async function closeClient(client) {
  await client.context.close();
}

// ---------------------------------------------------------------------------
// Steps, as a person does them.

export function loginForm(page) {
  const card = page.getByRole('region', { name: 'Parley' });
  return {
    card,
    username: card.getByLabel('Username', { exact: true }),
    password: card.getByLabel('Password', { exact: true }),
    login: card.getByRole('button', { name: 'Log in' }),
    register: card.getByRole('button', { name: 'Register' }),
    error: card.getByRole('alert'),
  };
}

export function connectionStatus(page) {
  return page.getByRole('status').filter({ hasText: /Online|Offline|Connecting/ });
}

export async function waitOnline(page) {
  await assertEventually(async () => (await connectionStatus(page).textContent()) === 'Online',
    'the connection state to show Online');
}

export async function registerInUi(page, username, password = PASSWORD) {
  const form = loginForm(page);
  await form.username.fill(username);
  await form.password.fill(password);
  await form.register.click();
  await page.getByRole('button', { name: 'Log out' }).waitFor();
  await waitOnline(page);
}

export async function loginInUi(page, username, password = PASSWORD) {
  const form = loginForm(page);
  await form.username.fill(username);
  await form.password.fill(password);
  await form.password.press('Enter');
  await page.getByRole('button', { name: 'Log out' }).waitFor();
  await waitOnline(page);
}

export async function startChatInUi(page, username) {
  await page.getByRole('button', { name: 'New chat' }).click();
  const dialog = page.getByRole('dialog', { name: 'New chat' });
  await dialog.getByLabel('Username').fill(username);
  await dialog.getByRole('button', { name: 'Start chat' }).click();
  await dialog.waitFor({ state: 'hidden' });
}

export async function createGroupInUi(page, name, members) {
  await page.getByRole('button', { name: 'New group' }).click();
  const dialog = page.getByRole('dialog', { name: 'New group' });
  await dialog.getByLabel('Group name').fill(name);
  await dialog.getByLabel('Members').fill(members.join(', '));
  await dialog.getByRole('button', { name: 'Create group' }).click();
  await dialog.waitFor({ state: 'hidden' });
}

export function composer(page) {
  return page.getByRole('textbox', { name: 'Message' });
}

export async function sendInUi(page, body) {
  const box = composer(page);
  await box.fill(body);
  await box.press('Enter');
}

// The conversation button in the list whose accessible name starts with title.
export function conversationButton(page, title) {
  const escaped = title.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return page.getByRole('navigation', { name: 'Conversation list' })
    .getByRole('button', { name: new RegExp(`^${escaped}(, \\d+ unread)?$`) });
}

export async function openConversation(page, title) {
  await conversationButton(page, title).click();
  await page.getByRole('heading', { level: 2, name: title }).waitFor();
}

export function messageLog(page) {
  return page.getByRole('log', { name: 'Messages' });
}

export function messageItem(page, body) {
  return messageLog(page).getByRole('listitem').filter({ hasText: body });
}

// What the message view shows: [{seq, sender, body, state}] in DOM order.
export async function shownMessages(page) {
  return messageLog(page).locator('li.message').evaluateAll((items) => items.map((li) => ({
    seq: li.dataset.seq ? Number(li.dataset.seq) : null,
    sender: li.querySelector('.sender').textContent,
    body: li.querySelector('.message-body').textContent,
    state: li.dataset.state || null,
    delivery: li.querySelector('.delivery-state').textContent,
  })));
}

export async function waitForState(page, body, state) {
  await assertEventually(async () => (await messageItem(page, body).getAttribute('data-state')) === state,
    `message "${body}" to be ${state}`);
}

// Polls fn until it returns true, then returns; else fails with `what`.
export async function assertEventually(fn, what, timeoutMs = TIMEOUT) {
  const deadline = Date.now() + timeoutMs;
  let lastError = null;
  for (;;) {
    try {
      if (await fn()) return;
      lastError = null;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${lastError.message}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

// ---------------------------------------------------------------------------
// Artifacts.

export async function screenshot(page, name) {
  await fsp.mkdir(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, `${name}.png`);
  // Let fonts settle and the caret not blink into the picture.
  await page.evaluate(() => document.fonts.ready);
  await page.screenshot({ path: file, animations: 'disabled', caret: 'hide' });
  return file;
}

// The README's picture: copied from a screenshot this run just took, only
// when asked (PARLEY_UPDATE_SCREENSHOT=1), so that a test run leaves the
// source tree as it found it.
export async function publishScreenshot(file) {
  assert.ok(fs.statSync(file).size > 10_000, 'the screenshot looks empty');
  if (process.env.PARLEY_UPDATE_SCREENSHOT !== '1') return;
  const target = path.join(REPO_ROOT, 'docs', 'screenshot.png');
  await fsp.mkdir(path.dirname(target), { recursive: true });
  await fsp.copyFile(file, target);
  assert.ok(fs.statSync(target).size > 10_000, 'the screenshot looks empty');
}

// ---------------------------------------------------------------------------
// Server restart on the same address: a page that is open keeps the URL it
// was loaded from, so the server must come back on the same port.
// The shared harness restarts on a fresh port (127.0.0.1:0); this pins the
// old one for this server object.
export async function restartOnSamePort(server) {
  const port = server.port;
  const commandLine = Object.getPrototypeOf(server).commandLine;
  server.commandLine = function pinned() {
    return commandLine.call(this).map((arg) => (arg === '127.0.0.1:0' ? `127.0.0.1:${port}` : arg));
  };
  await server.stop();
  return { port, start: async () => {
    await server.start();
    assert.equal(server.port, port, 'the server came back on another port');
  } };
}
