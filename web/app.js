// Entry point: restores or starts a session, then wires the store, the
// protocol driver and the views together. Rendering is coalesced: any number
// of state changes in one task cause one render.

import {Api} from './api.js';
import {ChatClient} from './chat.js';
import {ChatView} from './chat_view.js';
import {ConversationListView} from './conversation_list_view.js';
import {FormDialog} from './dialogs.js';
import {errorText} from './format.js';
import {LoginView} from './login_view.js';
import {SessionStore} from './session.js';
import {ChatStore} from './store.js';
import {setText} from './dom.js';

class App {
  constructor(doc, win) {
    this.doc = doc;
    this.win = win;
    this.sessions = new SessionStore(win.localStorage);
    this.session = null;
    this.api = new Api(() => (this.session ? this.session.token : null));
    this.store = null;
    this.chat = null;
    this.renderScheduled = false;
    this.countdown = null;
    this.noticeTimer = null;

    this.appScreen = doc.getElementById('app-screen');
    this.connection = doc.getElementById('connection');
    this.reconnectButton = doc.getElementById('reconnect-now');
    this.notice = doc.getElementById('notice');

    this.loginView = new LoginView(doc, (action, username, password) =>
      this.authenticate(action, username, password));
    this.listView = new ConversationListView(doc, (conv) => this.chat.openConversation(conv));
    this.chatView = new ChatView(doc, {
      send: (conv, body) => this.chat.send(conv, body),
      loadOlder: (conv) => this.chat.loadOlder(conv),
      retry: (id) => this.chat.retry(id),
      discard: (id) => this.chat.discard(id),
      back: () => this.back(),
      addMember: () => this.dialogs.addMember.open(),
      leaveGroup: () => this.openLeaveDialog(),
    });
    this.dialogs = {
      newChat: new FormDialog(doc, 'new-chat-dialog',
        (v) => this.chat.startChat(v['new-chat-username'])),
      newGroup: new FormDialog(doc, 'new-group-dialog',
        (v) => this.chat.createGroup(v['new-group-name'], splitNames(v['new-group-members']))),
      addMember: new FormDialog(doc, 'add-member-dialog',
        (v) => this.chat.addMember(this.activeGroupId(), v['add-member-username'])),
      leaveGroup: new FormDialog(doc, 'leave-group-dialog',
        () => this.chat.leaveGroup(this.activeGroupId()).then(() => this.focusList())),
    };

    doc.getElementById('new-chat-button').addEventListener('click', () => this.dialogs.newChat.open());
    doc.getElementById('new-group-button').addEventListener('click', () => this.dialogs.newGroup.open());
    doc.getElementById('logout').addEventListener('click', () => this.logout());
    this.reconnectButton.addEventListener('click', () => this.chat && this.chat.reconnectNow());
    doc.getElementById('notice-dismiss').addEventListener('click', () => this.hideNotice());
  }

  async boot() {
    const saved = this.sessions.load();
    if (!saved) {
      this.showLogin();
      return;
    }
    this.session = saved;
    try {
      const me = await this.api.me();
      this.session = {...saved, username: me.username};
      this.sessions.save(this.session);
    } catch (error) {
      if (error.code === 'unauthenticated') {
        this.session = null;
        this.sessions.clear();
        this.showLogin('Your session has ended. Please log in again.');
        return;
      }
      // Unreachable or failing: start anyway; the socket keeps retrying and
      // the connection state tells the user.
    }
    this.enter();
  }

  async authenticate(action, username, password) {
    try {
      if (action === 'register') await this.api.register(username, password);
      const answer = await this.api.login(username, password);
      this.session = {token: answer.token, user_id: answer.user_id, username,
                      expires_at: answer.expires_at};
      try {
        const me = await this.api.me();
        this.session.username = me.username;  // as registered, whatever case was typed
      } catch {
        // keep the typed name; it differs at most in case
      }
      this.sessions.save(this.session);
      this.loginView.hide();
      this.enter();
    } catch (error) {
      this.session = null;
      this.loginView.setError(errorText(error, action));
    }
  }

  enter() {
    const session = this.session;
    this.store = new ChatStore({user_id: session.user_id, username: session.username},
                               this.win.localStorage);
    this.chat = new ChatClient({api: this.api, store: this.store, token: session.token, win: this.win});
    this.store.addEventListener('change', () => this.scheduleRender());
    this.chat.addEventListener('connection', (e) => this.showConnection(e.detail));
    this.chat.addEventListener('notice', (e) => this.showNotice(e.detail.text));
    this.chat.addEventListener('ended', (e) => this.endSession(e.detail.message));
    this.loginView.hide();
    setText(this.doc.getElementById('me-name'), session.username);
    setText(this.doc.getElementById('me-avatar'), (session.username[0] || '?').toUpperCase());
    this.appScreen.hidden = false;
    this.chat.start();
    this.render();
    this.doc.getElementById('new-chat-button').focus();
  }

  async logout() {
    const chat = this.chat;
    if (chat) chat.stop();
    try {
      await this.api.logout();
    } catch {
      // The token is forgotten here either way; the server expires it.
    }
    this.endSession('');
  }

  endSession(message) {
    if (this.chat) this.chat.stop();
    this.chat = null;
    this.store = null;
    this.session = null;
    this.sessions.clear();
    clearInterval(this.countdown);
    for (const dialog of Object.values(this.dialogs)) dialog.close();
    this.hideNotice();
    this.appScreen.hidden = true;
    this.doc.title = 'Parley';
    this.showLogin(message);
  }

  showLogin(message = '') {
    this.appScreen.hidden = true;
    this.loginView.show(message);
  }

  back() {
    this.chat.closeConversation();
    this.focusList();
  }

  focusList() {
    queueMicrotask(() => {
      const current = this.doc.querySelector('.conversation[aria-current="true"]') ||
                      this.doc.querySelector('.conversation') ||
                      this.doc.getElementById('new-chat-button');
      current.focus();
    });
  }

  activeGroupId() {
    const c = this.store && this.store.activeConv && this.store.convs.get(this.store.activeConv);
    if (!c || c.kind !== 'g') throw new Error('No group is open.');
    return c.groupId;
  }

  openLeaveDialog() {
    const c = this.store.convs.get(this.store.activeConv);
    setText(this.doc.getElementById('leave-group-title'), `Leave ${this.store.title(c)}?`);
    this.dialogs.leaveGroup.open();
  }

  scheduleRender() {
    if (this.renderScheduled) return;
    this.renderScheduled = true;
    queueMicrotask(() => {
      this.renderScheduled = false;
      this.render();
    });
  }

  render() {
    const store = this.store;
    if (!store) return;
    this.listView.render(store);
    this.chatView.render(store);
    this.doc.body.classList.toggle('chat-open', Boolean(store.activeConv));
    let unread = 0;
    for (const c of store.convs.values()) if (c.conv !== store.activeConv) unread += store.unread(c);
    this.doc.title = unread ? `(${unread}) Parley` : 'Parley';
  }

  showConnection({state, retryInMs}) {
    clearInterval(this.countdown);
    this.connection.dataset.state = state;
    this.reconnectButton.hidden = state !== 'waiting';
    if (state === 'open') {
      setText(this.connection, 'Online');
    } else if (state === 'connecting') {
      setText(this.connection, 'Connecting…');
    } else if (state === 'waiting') {
      const until = Date.now() + retryInMs;
      const tick = () => {
        const seconds = Math.max(0, Math.ceil((until - Date.now()) / 1000));
        setText(this.connection, `Offline, retrying in ${seconds} s`);
      };
      tick();
      this.countdown = setInterval(tick, 1000);
    } else {
      setText(this.connection, 'Offline');
    }
  }

  showNotice(text) {
    clearTimeout(this.noticeTimer);
    setText(this.doc.getElementById('notice-text'), text);
    this.notice.hidden = false;
    this.noticeTimer = setTimeout(() => this.hideNotice(), 10000);
  }

  hideNotice() {
    clearTimeout(this.noticeTimer);
    this.notice.hidden = true;
  }
}

function splitNames(text) {
  return text.split(/[\s,;]+/).map((s) => s.trim()).filter(Boolean);
}

new App(document, window).boot();
