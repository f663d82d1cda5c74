// The conversation list: one button per conversation with its name, the
// last message, its time and the unread count, newest activity first.

import {h, reconcile, setAttr, setText} from './dom.js';
import {formatTime, preview} from './format.js';

export class ConversationListView {
  // onOpen(conv) is called when the user picks a conversation.
  constructor(doc, onOpen) {
    this.list = doc.getElementById('conversation-list');
    this.empty = doc.getElementById('conversation-empty');
    this.onOpen = onOpen;
  }

  render(store) {
    const items = store.conversationList();
    this.empty.hidden = items.length > 0;
    reconcile(this.list, items, (c) => c.conv, (c) => this.create(c), (el, c) => this.update(el, c, store));
  }

  create(c) {
    const previewId = `preview-${c.conv.replace(/:/g, '-')}`;
    const button = h('button', {class: 'conversation', type: 'button', 'aria-describedby': previewId,
                                onclick: () => this.onOpen(c.conv)},
      h('span', {class: 'avatar', 'aria-hidden': 'true'}),
      h('span', {class: 'conversation-main'},
        h('span', {class: 'conversation-top'},
          h('span', {class: 'conversation-title'}),
          h('time', {class: 'conversation-time'})),
        h('span', {class: 'conversation-bottom'},
          h('span', {class: 'conversation-preview', id: previewId}),
          h('span', {class: 'badge', 'aria-hidden': 'true'}))));
    return h('li', {dataset: {conv: c.conv}}, button);
  }

  update(el, c, store) {
    const button = el.firstElementChild;
    const title = store.title(c);
    const unread = c.conv === store.activeConv ? 0 : store.unread(c);
    const last = store.lastMessage(c);
    const pending = store.pendingFor(c.conv);
    const newestPending = pending.length ? pending[pending.length - 1] : null;

    setAttr(button, 'aria-label', unread ? `${title}, ${unread} unread` : title);
    setAttr(button, 'aria-current', c.conv === store.activeConv ? 'true' : null);
    setAttr(el, 'data-unread', String(unread));
    setText(button.querySelector('.avatar'), initials(title, c.kind));
    button.querySelector('.avatar').classList.toggle('group', c.kind === 'g');
    setText(button.querySelector('.conversation-title'), title);

    let text = '';
    let ts = 0;
    if (newestPending && (!last || newestPending.createdAt >= last.ts)) {
      text = `You: ${preview(newestPending.body)}`;
      ts = newestPending.createdAt;
    } else if (last) {
      const who = last.from === store.me.user_id ? 'You'
        : (c.kind === 'g' ? store.displayName(last.from) : '');
      text = who ? `${who}: ${preview(last.body)}` : preview(last.body);
      ts = last.ts;
    } else if (c.lastSeq) {
      text = 'Loading…';
    } else {
      text = c.kind === 'g' ? 'No messages yet' : 'Say hello';
    }
    setText(button.querySelector('.conversation-preview'), text);
    const time = button.querySelector('.conversation-time');
    setText(time, ts ? formatTime(ts) : '');
    setAttr(time, 'datetime', ts ? new Date(ts).toISOString() : null);
    const badge = button.querySelector('.badge');
    setText(badge, unread > 99 ? '99+' : String(unread));
    badge.hidden = unread === 0;
  }
}

export function initials(name, kind) {
  if (kind === 'g' && /^Group #/.test(name)) return '#';
  const letters = name.replace(/[^A-Za-z0-9]/g, '');
  return (letters[0] || '?').toUpperCase();
}
