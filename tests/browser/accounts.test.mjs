// Accounts in the browser: register, a taken username, a bad password, the
// session surviving a reload, logout returning to the login screen, a token
// revoked elsewhere, rate limiting, and a server that cannot be reached.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { uniqueName, api } from '../support/parley_server.mjs';
import {
  startWebServer, launchBrowser, openClient, closeClient, assertNoConsoleErrors, registerInUi,
  loginInUi, loginForm, waitOnline, httpStatusError, CONNECTION_REFUSED, PASSWORD,
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

test('bad login shows an error; logout returns to the login screen', async () => {
  const name = uniqueName('acc');
  const client = await openClient(browser, server.baseUrl, { name: 'accounts' });
  const { page } = client;
  try {
    const form = loginForm(page);
    await registerInUi(page, name);
    assert.equal(await page.getByText(name, { exact: true }).first().isVisible(), true);

    // The token is kept: a reload stays logged in.
    await page.reload();
    await waitOnline(page);
    assert.equal(await page.getByRole('button', { name: 'Log out' }).isVisible(), true);

    // Logout: back to the login screen, and a reload does not undo it.
    await page.getByRole('button', { name: 'Log out' }).click();
    await form.username.waitFor();
    assert.equal(await page.getByRole('button', { name: 'Log out' }).isVisible(), false);
    await page.reload();
    await form.username.waitFor();
    assert.equal(await page.getByRole('button', { name: 'Log out' }).isVisible(), false);

    // A wrong password.
    await form.username.fill(name);
    await form.password.fill('not the password');
    await form.login.click();
    await assertTextEventually(form.error, 'Wrong username or password.');
    assert.equal(await page.getByRole('button', { name: 'Log out' }).isVisible(), false);

    // An unknown user reads the same (usernames cannot be probed).
    await form.username.fill(uniqueName('nobody'));
    await form.password.fill(PASSWORD);
    await form.login.click();
    await assertTextEventually(form.error, 'Wrong username or password.');

    // A taken username, in another case.
    await form.username.fill(name.toUpperCase());
    await form.password.fill(PASSWORD);
    await form.register.click();
    await assertTextEventually(form.error, 'That username is taken.');

    // Checked before asking the server.
    await form.username.fill('x');
    await form.register.click();
    await assertTextEventually(form.error, /3 to 32 letters/);

    // And the right password works.
    await loginInUi(page, name);
    assertNoConsoleErrors(client, [httpStatusError(401), httpStatusError(409)]);
  } finally {
    await closeClient(client);
  }
});

test('a token revoked elsewhere ends the session in the page', async () => {
  const name = uniqueName('rev');
  const client = await openClient(browser, server.baseUrl, { name: 'revoked' });
  const { page } = client;
  try {
    await registerInUi(page, name);
    const token = await page.evaluate(() => JSON.parse(localStorage.getItem('parley.session')).token);
    const res = await api(server.baseUrl, 'DELETE', '/api/v1/sessions', undefined, token);
    assert.equal(res.status, 204, res.text);
    // The server closes the page's socket with 4001; the page says so.
    const form = loginForm(page);
    await form.username.waitFor();
    await assertTextEventually(form.error, /session has ended/);
    assertNoConsoleErrors(client);
  } finally {
    await closeClient(client);
  }
});

test('too many login attempts are reported as rate limited', async () => {
  // A server of its own, allowing three attempts per address and then
  // (almost) nothing more.
  const strict = await startWebServer({ config: { rate: { auth_per_sec: 0.01, auth_burst: 3 } } });
  const client = await openClient(browser, strict.baseUrl, { name: 'rate-limited' });
  const { page } = client;
  try {
    const form = loginForm(page);
    await form.username.fill(uniqueName('rl'));
    await form.password.fill('wrong password');
    let text = '';
    for (let attempt = 0; attempt < 6 && !/Too many attempts/.test(text); attempt++) {
      await form.login.click();
      await assertTextEventually(form.error, /Wrong username or password|Too many attempts/);
      text = await form.error.textContent();
    }
    assert.match(text, /^Too many attempts\. Try again in \d+ s\.$/);
    assertNoConsoleErrors(client, [httpStatusError(401), httpStatusError(429)]);
  } finally {
    await closeClient(client);
    await strict.dispose();
  }
});

test('an unreachable server is reported as such', async () => {
  const client = await openClient(browser, server.baseUrl, { name: 'unreachable' });
  const { page } = client;
  try {
    const form = loginForm(page);
    await form.username.waitFor();
    await server.stop();
    await form.username.fill(uniqueName('late'));
    await form.password.fill(PASSWORD);
    await form.login.click();
    await assertTextEventually(form.error, /Cannot reach the server/);
    assertNoConsoleErrors(client, CONNECTION_REFUSED);
  } finally {
    await closeClient(client);
  }
});

async function assertTextEventually(locator, expected) {
  const deadline = Date.now() + 10_000;
  let text = '';
  for (;;) {
    text = (await locator.textContent()) ?? '';
    if (expected instanceof RegExp ? expected.test(text) : text === expected) return;
    if (Date.now() > deadline) assert.fail(`expected ${expected}, the page shows "${text}"`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
