// The protocol driver: keeps the store in step with the server over the
// WebSocket (live pushes, hello-driven sync, gap filling, acks, read
// receipts, outbox resend), has the names of the users it meets looked up
// (name_resolver.js), and performs the user's actions over HTTP.
//
// Events: 'connection' {state, retryInMs} (see socket.js), 'ended' {message}
// when the session is over (logged out elsewhere, expired), 'notice' {text}
// for a background failure worth showing.

import {ApiError} from './api.js';
import {NameResolver} from './name_resolver.js';
import {ChatSocket, FatalConnectError} from './socket.js';
import {convForUsers} from './store.js';
import {errorText} from './format.js';

const PAGE = 50;           // messages per history page (HTTP)
const PREVIEW = 30;        // messages fetched for a conversation not yet loaded
const SYNC_LIMIT = 200;    // messages per sync frame when filling a gap
const SYNC_TIMEOUT_MS = 10000;
const LIST_PAGES_MAX = 100;  // conversation list pages fetched in one go

export class ChatClient extends EventTarget {
  constructor({api, store, token, win = window}) {
    super();
    this.api = api;
    this.store = store;
    this.token = token;
    this.win = win;
    this.syncing = new Map();     // conv -> timeout of the sync in flight
    this.groupLoads = new Set();  // group ids being fetched
    this.readScheduled = false;
    this.stopped = false;
    this.names = new NameResolver({api, store, onAuthError: (error) => this.backgroundError(error)});
    this.socket = new ChatSocket({token, resolveUrl: (attempt) => this.resolveUrl(attempt)});
    this.socket.addEventListener('state', (e) => this.onSocketState(e.detail));
    this.socket.addEventListener('frame', (e) => this.onFrame(e.detail));
    this.socket.addEventListener('fatal', () => this.end('Your session has ended. Please log in again.'));
    this.onStoreChange = () => {
      this.scheduleRead();
      this.names.schedule();
    };
    this.onVisible = () => this.scheduleRead();
    this.onOnline = () => this.socket.reconnectNow();
  }

  start() {
    this.store.addEventListener('change', this.onStoreChange);
    this.win.document.addEventListener('visibilitychange', this.onVisible);
    this.win.addEventListener('focus', this.onVisible);
    this.win.addEventListener('online', this.onOnline);
    this.socket.start();
    this.loadConversationList();
    this.names.schedule();
  }

  stop() {
    this.stopped = true;
    this.store.removeEventListener('change', this.onStoreChange);
    this.win.document.removeEventListener('visibilitychange', this.onVisible);
    this.win.removeEventListener('focus', this.onVisible);
    this.win.removeEventListener('online', this.onOnline);
    for (const timer of this.syncing.values()) clearTimeout(timer);
    this.syncing.clear();
    this.names.stop();
    this.socket.stop();
  }

  connectionState() {
    return this.socket.state;
  }

  reconnectNow() {
    this.socket.reconnectNow();
  }

  end(message) {
    if (this.stopped) return;
    this.stop();
    this.dispatchEvent(new CustomEvent('ended', {detail: {message}}));
  }

  notice(text) {
    this.dispatchEvent(new CustomEvent('notice', {detail: {text}}));
  }

  // Handles an ApiError from a background call; true when it ended the session.
  backgroundError(error) {
    if (error && error.code === 'unauthenticated') {
      this.end(errorText(error));
      return true;
    }
    this.notice(errorText(error));
    return false;
  }

  // ---- connection ---------------------------------------------------------

  async resolveUrl(attempt) {
    if (attempt > 0) {
      // Repeated failures may mean our token is gone (the upgrade's 401 is
      // invisible to a browser), or simply that the server is down.
      try {
        await this.api.me();
      } catch (error) {
        if (error.code === 'unauthenticated') throw new FatalConnectError(error.message);
        throw error;
      }
    }
    let urls = [];
    try {
      const answer = await this.api.endpoints();
      urls = Array.isArray(answer.websocket) ? answer.websocket : [];
    } catch (error) {
      if (error.code === 'unreachable') throw error;
    }
    const location = this.win.location;
    for (const url of urls) {
      try {
        const parsed = new URL(url);
        if (parsed.protocol !== 'ws:' && parsed.protocol !== 'wss:') continue;
        // A node listening on every interface advertises an address that
        // only works locally; reach it by the host this page came from.
        if (['0.0.0.0', '[::]', '::'].includes(parsed.hostname)) parsed.hostname = location.hostname;
        return parsed.toString();
      } catch {
        // not a URL: try the next one
      }
    }
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    return `${scheme}//${location.host}/ws`;
  }

  onSocketState(detail) {
    if (detail.state !== 'open') {
      // Syncs in flight died with the connection; hello will restart them.
      for (const timer of this.syncing.values()) clearTimeout(timer);
      this.syncing.clear();
    }
    this.dispatchEvent(new CustomEvent('connection', {detail}));
  }

  onFrame(frame) {
    switch (frame.type) {
      case 'hello': return this.onHello(frame);
      case 'msg': return this.onMessage(frame);
      case 'ack': return this.onAck(frame);
      case 'sync': return this.onSync(frame);
      case 'read': return this.store.applyRead(frame.conv, frame.user_id, frame.seq);
      case 'error': return this.onError(frame);
      default: return undefined;  // frames added to the protocol later
    }
  }

  onHello(frame) {
    const convs = Array.isArray(frame.convs) ? frame.convs : [];
    for (const summary of convs) {
      const c = this.store.updateSummary(summary);
      if (c && c.kind === 'g') this.ensureGroup(c.groupId);
    }
    // hello carries the newest page only; the list brings the rest.
    if (frame.has_more === true) this.loadConversationList({catchUp: true});
    for (const c of this.store.convs.values()) this.catchUp(c.conv);
    for (const pending of this.store.sendable()) this.transmit(pending);
    // Lookups that failed while we were cut off get another chance.
    this.names.retryFailed();
    this.scheduleRead();
  }

  onMessage(frame) {
    const c = this.store.addMessages(frame.conv, [frame]);
    if (!c) return;
    if (c.kind === 'g') this.ensureGroup(c.groupId);
    this.catchUp(c.conv);
  }

  onAck(frame) {
    // An ack for an entry no longer in the outbox (discarded meanwhile):
    // the message exists all the same, and sync brings it.
    const c = this.store.ack(frame) || this.store.updateSummary({conv: frame.conv, last_seq: frame.seq});
    if (c) this.catchUp(c.conv);
  }

  onSync(frame) {
    const timer = this.syncing.get(frame.conv);
    clearTimeout(timer);
    this.syncing.delete(frame.conv);
    const messages = Array.isArray(frame.messages) ? frame.messages : [];
    this.store.addMessages(frame.conv, messages);
    this.catchUp(frame.conv);
  }

  onError(frame) {
    if (!frame.id || !this.store.outbox.has(frame.id)) return;
    if (frame.code === 'rate_limited') {
      const wait = Math.max(100, Number(frame.retry_after_ms) || 1000);
      setTimeout(() => {
        const pending = this.store.outbox.get(frame.id);
        if (pending && pending.state === 'sending') this.transmit(pending);
      }, wait);
      return;
    }
    this.store.failPending(frame.id, errorText({code: frame.code, message: frame.message}));
  }

  // Fetches whatever the conversation is missing past its window: the
  // newest messages when nothing is loaded, else everything after `hi`.
  catchUp(conv) {
    const c = this.store.convs.get(conv);
    if (!c || this.syncing.has(conv)) return;
    let afterSeq;
    let limit;
    if (c.hi) {
      if (c.lastSeq <= c.hi) return;
      afterSeq = c.hi;
      limit = SYNC_LIMIT;
    } else {
      if (!c.lastSeq) return;
      afterSeq = Math.max(0, c.lastSeq - PREVIEW);
      limit = PREVIEW;
    }
    if (this.socket.send({type: 'sync', conv, after_seq: afterSeq, limit})) {
      this.syncing.set(conv, setTimeout(() => {
        this.syncing.delete(conv);
        this.catchUp(conv);
      }, SYNC_TIMEOUT_MS));
      return;
    }
    // No socket right now: the HTTP API answers the same question.
    this.syncing.set(conv, null);
    this.api.messages(conv, {after_seq: afterSeq, limit}).then((page) => {
      this.syncing.delete(conv);
      this.store.addMessages(conv, page.messages || []);
      this.catchUp(conv);
    }, (error) => {
      this.syncing.delete(conv);
      if (error.code !== 'unreachable') this.backgroundError(error);
    });
  }

  // ---- reading ------------------------------------------------------------

  scheduleRead() {
    if (this.readScheduled) return;
    this.readScheduled = true;
    queueMicrotask(() => {
      this.readScheduled = false;
      this.sendReadIfVisible();
    });
  }

  // The open conversation, while the page is visible, counts as read.
  sendReadIfVisible() {
    const conv = this.store.activeConv;
    const c = conv && this.store.convs.get(conv);
    if (!c || !c.hi || c.hi <= c.readSeq) return;
    if (this.win.document.visibilityState !== 'visible') return;
    if (this.socket.send({type: 'read', conv, seq: c.hi})) this.store.markReadLocally(c, c.hi);
  }

  // ---- conversations ------------------------------------------------------

  // catchUp: pull what was missed in every listed conversation (after a
  // hello that listed only the first page), not only while the socket is down.
  async loadConversationList({catchUp = false} = {}) {
    try {
      const list = [];
      let before;
      for (let page = 0; page < LIST_PAGES_MAX; page++) {
        const answer = await this.api.conversations(before);
        if (Array.isArray(answer.conversations)) list.push(...answer.conversations);
        if (answer.has_more !== true || typeof answer.next !== 'string') break;
        before = answer.next;
      }
      for (const summary of list) {
        const c = this.store.updateSummary(summary);
        if (c && c.kind === 'g') this.ensureGroup(c.groupId);
      }
      this.store.setServerOrder(list.map((s) => s.conv));
      if (catchUp || !this.socket.isOpen()) for (const s of list) this.catchUp(s.conv);
    } catch (error) {
      if (error.code !== 'unreachable') this.backgroundError(error);
    }
  }

  async ensureGroup(groupId, force = false) {
    if (this.groupLoads.has(groupId)) return;
    if (!force && this.store.groups.has(groupId)) return;
    this.groupLoads.add(groupId);
    try {
      this.store.setGroup(await this.api.group(groupId));
    } catch (error) {
      if (error.code === 'unauthenticated') this.backgroundError(error);
      // 403/404: no longer a member; the conversation keeps its fallback name.
    } finally {
      this.groupLoads.delete(groupId);
    }
  }

  openConversation(conv) {
    const c = this.store.convs.get(conv);
    if (!c) return;
    this.store.setActive(conv);
    if (c.kind === 'g') this.ensureGroup(c.groupId);
    if (!c.hi && c.lastSeq) {
      this.loadPage(c, {limit: PAGE});
    } else if (c.lo > 1 && c.hi - c.lo + 1 < PAGE) {
      this.loadOlder(conv);
    }
  }

  closeConversation() {
    this.store.setActive(null);
  }

  loadOlder(conv) {
    const c = this.store.convs.get(conv);
    if (!c || c.loadingOlder || !this.store.hasOlder(c)) return Promise.resolve();
    return this.loadPage(c, c.hi ? {before_seq: c.lo, limit: PAGE} : {limit: PAGE});
  }

  async loadPage(c, page) {
    c.loadingOlder = true;
    this.store.changed();
    try {
      const answer = await this.api.messages(c.conv, page);
      this.store.addMessages(c.conv, answer.messages || []);
    } catch (error) {
      this.backgroundError(error);
    } finally {
      c.loadingOlder = false;
      this.store.changed();
    }
  }

  // ---- sending ------------------------------------------------------------

  send(conv, body) {
    const c = this.store.convs.get(conv);
    if (!c) return;
    const target = c.kind === 'p' ? {to_user: c.peer} : {to_group: c.groupId};
    const pending = {id: newClientId(), conv, target, body, createdAt: Date.now()};
    this.store.addPending(pending);
    this.transmit(pending);
  }

  // Sends (or resends, with the same client id) one outbox entry. When the
  // socket is down it stays in the outbox until the next hello.
  transmit(pending) {
    this.socket.send({type: 'send', id: pending.id, ...pending.target, body: pending.body});
  }

  retry(id) {
    const pending = this.store.retryPending(id);
    if (pending) this.transmit(pending);
  }

  discard(id) {
    this.store.discardPending(id);
  }

  // ---- actions over HTTP (they reject with ApiError) -------------------------

  async lookUp(username) {
    let user;
    try {
      user = await this.api.userByName(username);
    } catch (error) {
      if (error.code === 'not_found') throw new ApiError('not_found', `No user named "${username}".`, 404);
      throw error;
    }
    this.store.learnName(user.user_id, user.username);
    return user;
  }

  async startChat(username) {
    const user = await this.lookUp(username);
    const conv = convForUsers(this.store.me.user_id, user.user_id);
    this.store.ensureConv(conv);
    this.openConversation(conv);
    return conv;
  }

  async createGroup(name, usernames) {
    const ids = [];
    for (const username of usernames) {
      const user = await this.lookUp(username);
      if (user.user_id !== this.store.me.user_id && !ids.includes(user.user_id)) ids.push(user.user_id);
    }
    const group = await this.api.createGroup(name, ids);
    this.store.setGroup(group);
    const conv = `g:${group.group_id}`;
    const c = this.store.ensureConv(conv);
    c.lastActivity = Math.max(c.lastActivity, Date.now());
    this.openConversation(conv);
    return conv;
  }

  async addMember(groupId, username) {
    const user = await this.lookUp(username);
    await this.api.addMember(groupId, user.user_id);
    await this.ensureGroup(groupId, true);
  }

  async leaveGroup(groupId) {
    await this.api.removeMember(groupId, this.store.me.user_id);
    this.store.removeConv(`g:${groupId}`);
  }
}

// 22 characters of [A-Za-z0-9_-] from 128 random bits; getRandomValues works
// outside secure contexts too (a LAN address over plain http).
export function newClientId() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}
