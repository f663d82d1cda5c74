// The open conversation: header, message history (with infinite scroll back),
// delivery states of our own messages, and the composer.

import {h, reconcile, setAttr, setText} from './dom.js';
import {formatDateTime, formatTime, utf8Length} from './format.js';
import {initials} from './conversation_list_view.js';

export const BODY_MAX_BYTES = 4096;
const NEAR_TOP_PX = 80;
const NEAR_BOTTOM_PX = 48;

export class ChatView {
  // actions: {send(conv, body), loadOlder(conv), retry(id), discard(id),
  //           back(), addMember(), leaveGroup()}
  constructor(doc, actions) {
    this.doc = doc;
    this.actions = actions;
    this.section = doc.getElementById('chat');
    this.placeholder = doc.getElementById('chat-placeholder');
    this.title = doc.getElementById('chat-title');
    this.subtitle = doc.getElementById('chat-subtitle');
    this.groupActions = doc.getElementById('group-actions');
    this.scroller = doc.getElementById('message-scroll');
    this.list = doc.getElementById('message-list');
    this.loadOlderButton = doc.getElementById('load-older');
    this.historyStart = doc.getElementById('history-start');
    this.form = doc.getElementById('composer');
    this.input = doc.getElementById('composer-input');
    this.count = doc.getElementById('composer-count');
    this.sendButton = doc.getElementById('send');
    this.conv = null;
    this.store = null;
    this.drafts = new Map();  // conv -> unsent composer text

    doc.getElementById('back').addEventListener('click', () => actions.back());
    doc.getElementById('add-member-button').addEventListener('click', () => actions.addMember());
    doc.getElementById('leave-group').addEventListener('click', () => actions.leaveGroup());
    this.loadOlderButton.addEventListener('click', () => this.conv && actions.loadOlder(this.conv));
    this.scroller.addEventListener('scroll', () => this.maybeLoadOlder());
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.submit();
    });
    this.input.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.submit();
      }
    });
    this.input.addEventListener('input', () => this.updateComposer());
  }

  submit() {
    if (!this.conv) return;
    const body = this.input.value;
    const bytes = utf8Length(body);
    if (!body.trim() || bytes > BODY_MAX_BYTES) return;
    this.actions.send(this.conv, body);
    this.input.value = '';
    this.drafts.delete(this.conv);
    this.updateComposer();
    this.stickToBottom = true;
    this.input.focus();
  }

  updateComposer() {
    const bytes = utf8Length(this.input.value);
    const over = bytes > BODY_MAX_BYTES;
    setText(this.count, over
      ? `${bytes} / ${BODY_MAX_BYTES} bytes: too long`
      : `${bytes} / ${BODY_MAX_BYTES} bytes`);
    this.count.classList.toggle('over', over);
    this.count.classList.toggle('near', !over && bytes > BODY_MAX_BYTES * 0.9);
    setAttr(this.input, 'aria-invalid', over ? 'true' : null);
    this.sendButton.disabled = over || !this.input.value.trim();
    // Grow with the text up to a few lines, then scroll inside.
    this.input.style.height = 'auto';
    this.input.style.height = `${Math.min(this.input.scrollHeight, 160)}px`;
  }

  render(store) {
    this.store = store;
    const conv = store.activeConv;
    const c = conv ? store.convs.get(conv) : null;
    this.placeholder.hidden = Boolean(c);
    this.section.hidden = !c;
    if (!c) {
      if (this.conv) this.drafts.set(this.conv, this.input.value);
      this.conv = null;
      return;
    }
    const switched = conv !== this.conv;
    if (switched) {
      if (this.conv) this.drafts.set(this.conv, this.input.value);
      this.conv = conv;
      this.input.value = this.drafts.get(conv) || '';
      this.list.replaceChildren();
      this.updateComposer();
    }

    const title = store.title(c);
    setText(this.title, title);
    setText(this.subtitle, this.subtitleText(store, c));
    this.groupActions.hidden = c.kind !== 'g';

    // Remember where we were, to keep the reader's place as history grows.
    const before = {
      height: this.scroller.scrollHeight,
      top: this.scroller.scrollTop,
      atBottom: this.isAtBottom(),
      lo: this.renderedLo,
    };

    const items = store.windowMessages(c).map((m) => ({kind: 'message', m}));
    for (const p of store.pendingFor(conv)) items.push({kind: 'pending', p});
    reconcile(this.list, items, (item) => keyOf(item, store),
      (item) => this.createItem(item),
      (el, item) => this.updateItem(el, item, c, store));

    const older = store.hasOlder(c);
    this.loadOlderButton.hidden = !older;
    this.loadOlderButton.disabled = c.loadingOlder;
    setText(this.loadOlderButton, c.loadingOlder ? 'Loading older messages…' : 'Load older messages');
    this.historyStart.hidden = older || !c.hi;
    setAttr(this.scroller, 'aria-busy', c.loadingOlder ? 'true' : 'false');

    if (switched || before.atBottom || this.stickToBottom) {
      this.scroller.scrollTop = this.scroller.scrollHeight;
      this.stickToBottom = false;
    } else if (before.lo && c.lo < before.lo) {
      // Older messages went in above: keep the same message under the eyes.
      this.scroller.scrollTop = before.top + (this.scroller.scrollHeight - before.height);
    }
    this.renderedLo = c.lo;
    if (switched && !this.doc.activeElement?.closest('dialog')) this.input.focus({preventScroll: true});
    this.maybeLoadOlder();
  }

  isAtBottom() {
    const s = this.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight < NEAR_BOTTOM_PX;
  }

  maybeLoadOlder() {
    const c = this.conv && this.store && this.store.convs.get(this.conv);
    if (!c || c.loadingOlder || !this.store.hasOlder(c)) return;
    if (this.scroller.scrollTop < NEAR_TOP_PX) this.actions.loadOlder(this.conv);
  }

  subtitleText(store, c) {
    if (c.kind === 'p') {
      return c.peer === store.me.user_id ? 'Notes to yourself' : 'Direct chat';
    }
    const g = store.groups.get(c.groupId);
    if (!g) return 'Group';
    const names = g.members.map((id) => (id === store.me.user_id ? 'you' : store.displayName(id)));
    return `${g.members.length} members: ${names.join(', ')}`;
  }

  createItem(item) {
    return h('li', {class: 'message'},
      h('span', {class: 'avatar', 'aria-hidden': 'true'}),
      h('div', {class: 'bubble'},
        h('div', {class: 'message-meta'},
          h('span', {class: 'sender'}),
          h('time', {class: 'message-time'})),
        h('p', {class: 'message-body'}),
        h('div', {class: 'delivery'},
          h('span', {class: 'delivery-state'}))));
  }

  updateItem(el, item, c, store) {
    const mine = item.kind === 'pending' || item.m.from === store.me.user_id;
    el.classList.toggle('mine', mine);
    el.classList.toggle('theirs', !mine);
    const body = item.kind === 'pending' ? item.p.body : item.m.body;
    const ts = item.kind === 'pending' ? item.p.createdAt : item.m.ts;
    const sender = mine ? 'You' : store.displayName(item.m.from);
    setText(el.querySelector('.avatar'), initials(mine ? store.me.username : sender, 'p'));
    setText(el.querySelector('.sender'), sender);
    const time = el.querySelector('.message-time');
    setText(time, formatTime(ts));
    setAttr(time, 'datetime', new Date(ts).toISOString());
    setAttr(time, 'title', formatDateTime(ts));
    setText(el.querySelector('.message-body'), body);

    let state = '';
    let label = '';
    if (item.kind === 'pending') {
      state = item.p.state === 'failed' ? 'failed' : 'sending';
      label = state === 'failed' ? `Not sent: ${item.p.error}` : 'Sending…';
      setAttr(el, 'data-seq', null);
    } else {
      setAttr(el, 'data-seq', String(item.m.seq));
      if (mine) {
        const delivery = store.deliveryState(c, item.m);
        state = delivery.state;
        label = state === 'read'
          ? (c.kind === 'g' ? `Read by ${delivery.readers}` : 'Read')
          : 'Sent';
      }
    }
    setAttr(el, 'data-state', state || null);
    const delivery = el.querySelector('.delivery');
    delivery.hidden = !state;
    setText(delivery.querySelector('.delivery-state'), label);
    this.updateFailureButtons(delivery, item);
  }

  updateFailureButtons(delivery, item) {
    const failed = item.kind === 'pending' && item.p.state === 'failed';
    let buttons = delivery.querySelector('.failure-actions');
    if (!failed) {
      if (buttons) buttons.remove();
      return;
    }
    if (buttons) return;
    const id = item.p.id;
    buttons = h('span', {class: 'failure-actions'},
      h('button', {class: 'link', type: 'button', 'aria-label': 'Retry sending',
                   onclick: () => this.actions.retry(id)}, 'Retry'),
      h('button', {class: 'link', type: 'button', 'aria-label': 'Discard message',
                   onclick: () => this.actions.discard(id)}, 'Discard'));
    delivery.append(buttons);
  }
}

// Our own messages are keyed by client id, so that an element turns from
// "sending" into "sent" in place when the ack arrives.
function keyOf(item, store) {
  if (item.kind === 'pending') return `c:${item.p.id}`;
  const m = item.m;
  return m.from === store.me.user_id && m.id ? `c:${m.id}` : `s:${m.seq}`;
}
