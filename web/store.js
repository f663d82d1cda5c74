// The client's state: who we are, the names we know, every conversation with
// the window of messages loaded for it, the outbox of unacknowledged sends,
// and who has read what. Pure state: no network. Emits 'change' after every
// mutation; views read it back through the getters.
//
// A conversation holds messages by seq. [lo, hi] is the contiguous window that
// is shown (0, 0 when empty); messages that arrive past a gap wait in the map
// until the gap is filled, so the view never shows a hole or a duplicate.

export function convForUsers(a, b) {
  return a <= b ? `p:${a}:${b}` : `p:${b}:${a}`;
}

export function parseConv(conv) {
  let m = /^p:(\d+):(\d+)$/.exec(conv);
  if (m) return {kind: 'p', users: [Number(m[1]), Number(m[2])]};
  m = /^g:(\d+)$/.exec(conv);
  if (m) return {kind: 'g', groupId: Number(m[1])};
  return null;
}

export class ChatStore extends EventTarget {
  // storage: a Web Storage (localStorage) for what survives a reload.
  constructor(me, storage) {
    super();
    this.me = {user_id: me.user_id, username: me.username};
    this.storage = storage;
    this.names = new Map();
    this.wantedNames = new Set();  // ids seen without a name, not yet taken
    this.convs = new Map();
    this.groups = new Map();
    this.outbox = new Map();  // client id -> pending send, in send order
    this.activeConv = null;
    this.nextOrder = 0;
    this.restore();
    this.learnName(me.user_id, me.username);
  }

  // ---- persistence --------------------------------------------------------

  key(what) {
    return `parley.${what}.${this.me.user_id}`;
  }

  restore() {
    const names = this.load('names') || {};
    for (const [id, name] of Object.entries(names)) this.names.set(Number(id), name);
    for (const p of this.load('outbox') || []) {
      this.outbox.set(p.id, {...p, state: 'sending', error: null});
    }
    this.savedReads = this.load('reads') || {};
  }

  load(what) {
    try {
      const text = this.storage.getItem(this.key(what));
      return text ? JSON.parse(text) : null;
    } catch {
      return null;
    }
  }

  save(what, value) {
    try {
      this.storage.setItem(this.key(what), JSON.stringify(value));
    } catch {
      // Storage full or disabled: the state still works for this page's life.
    }
  }

  saveOutbox() {
    this.save('outbox', Array.from(this.outbox.values(), ({id, conv, target, body, createdAt}) =>
      ({id, conv, target, body, createdAt})));
  }

  saveReads() {
    const reads = {};
    for (const c of this.convs.values()) {
      if (c.readBy.size) reads[c.conv] = Object.fromEntries(c.readBy);
    }
    this.save('reads', reads);
  }

  changed() {
    this.dispatchEvent(new Event('change'));
  }

  // ---- names --------------------------------------------------------------

  learnName(userId, username) {
    if (!userId || !username || this.names.get(userId) === username) return;
    this.names.set(userId, username);
    this.save('names', Object.fromEntries(this.names));
    this.changed();
  }

  // `user #N` stands in while the name is unknown (being looked up, or the
  // lookup failed).
  displayName(userId) {
    return this.names.get(userId) || `user #${userId}`;
  }

  // Records a user id the views may show, so that its name gets looked up.
  noteUser(userId) {
    if (Number.isInteger(userId) && userId > 0 && !this.names.has(userId)) this.wantedNames.add(userId);
  }

  // The ids noted since the last call whose names are still unknown.
  takeWantedNames() {
    const ids = Array.from(this.wantedNames).filter((id) => !this.names.has(id));
    this.wantedNames.clear();
    return ids;
  }

  // ---- conversations ------------------------------------------------------

  // Returns the conversation, creating an empty one for a conv id first seen.
  ensureConv(conv) {
    let c = this.convs.get(conv);
    if (c) return c;
    const parsed = parseConv(conv);
    if (!parsed) return null;
    c = {
      conv,
      kind: parsed.kind,
      peer: parsed.kind === 'p'
        ? (parsed.users[0] === this.me.user_id ? parsed.users[1] : parsed.users[0])
        : null,
      groupId: parsed.kind === 'g' ? parsed.groupId : null,
      lastSeq: 0,
      readSeq: 0,
      messages: new Map(),
      lo: 0,
      hi: 0,
      loadingOlder: false,
      readBy: new Map(Object.entries(this.savedReads[conv] || {}).map(([u, s]) => [Number(u), s])),
      lastActivity: 0,
      order: this.nextOrder++,
    };
    this.convs.set(conv, c);
    if (c.peer !== null) this.noteUser(c.peer);
    this.changed();
    return c;
  }

  // From the conversation list or hello: {conv, last_seq, read_seq, peer?, group_id?}.
  updateSummary(summary) {
    const c = this.ensureConv(summary.conv);
    if (!c) return null;
    if (Number.isInteger(summary.last_seq)) c.lastSeq = Math.max(c.lastSeq, summary.last_seq);
    if (Number.isInteger(summary.read_seq)) c.readSeq = Math.max(c.readSeq, summary.read_seq);
    this.changed();
    return c;
  }

  // Orders conversations as the server listed them (most recent first), for
  // those whose last message we have not loaded yet.
  setServerOrder(convIds) {
    convIds.forEach((conv, index) => {
      const c = this.convs.get(conv);
      if (c) c.order = index - convIds.length;
    });
    this.changed();
  }

  removeConv(conv) {
    if (!this.convs.delete(conv)) return;
    for (const [id, p] of this.outbox) if (p.conv === conv) this.outbox.delete(id);
    this.saveOutbox();
    if (this.activeConv === conv) this.activeConv = null;
    this.changed();
  }

  setActive(conv) {
    this.activeConv = conv;
    this.changed();
  }

  setGroup(group) {
    this.groups.set(group.group_id, {
      group_id: group.group_id,
      name: group.name,
      owner: group.owner,
      members: Array.isArray(group.members) ? group.members.slice() : [],
    });
    for (const id of this.groups.get(group.group_id).members) this.noteUser(id);
    this.changed();
  }

  title(c) {
    if (c.kind === 'g') {
      const g = this.groups.get(c.groupId);
      return g ? g.name : `Group #${c.groupId}`;
    }
    if (c.peer === this.me.user_id) return `${this.me.username} (you)`;
    return this.displayName(c.peer);
  }

  unread(c) {
    return Math.max(0, Math.max(c.lastSeq, c.hi) - c.readSeq);
  }

  lastMessage(c) {
    return c.hi ? c.messages.get(c.hi) : null;
  }

  // Newest activity first; conversations with nothing loaded keep server order.
  conversationList() {
    return Array.from(this.convs.values()).sort((a, b) =>
      (b.lastActivity - a.lastActivity) || (a.order - b.order));
  }

  // Messages of the shown window, ascending by seq.
  windowMessages(c) {
    const out = [];
    if (!c.hi) return out;
    for (let seq = c.lo; seq <= c.hi; seq++) out.push(c.messages.get(seq));
    return out;
  }

  hasOlder(c) {
    return c.lo > 1 || (c.hi === 0 && c.lastSeq > 0);
  }

  // The next seq past the window that has to be fetched, or 0 when up to date.
  gapAfter(c) {
    return c.hi && c.lastSeq > c.hi ? c.hi : 0;
  }

  // ---- messages -----------------------------------------------------------

  // Merges server messages (pushed, synced or paged) into their conversation.
  addMessages(conv, messages) {
    const c = this.ensureConv(conv);
    if (!c || !messages.length) return c;
    let top = 0;
    for (const m of messages) {
      if (!Number.isInteger(m.seq) || m.seq < 1) continue;
      top = Math.max(top, m.seq);
      if (!c.messages.has(m.seq)) {
        c.messages.set(m.seq, normalize(m));
        this.noteUser(m.from);
      }
      c.lastSeq = Math.max(c.lastSeq, m.seq);
      // A message of ours that was still in the outbox got through.
      if (m.from === this.me.user_id && m.id && this.outbox.has(m.id)) {
        this.outbox.delete(m.id);
        this.saveOutbox();
      }
    }
    if (!top) return c;
    if (!c.hi) {
      c.lo = c.hi = top;
    }
    while (c.messages.has(c.hi + 1)) c.hi++;
    while (c.messages.has(c.lo - 1)) c.lo--;
    const last = c.messages.get(c.hi);
    c.lastActivity = Math.max(c.lastActivity, last.ts || 0);
    this.changed();
    return c;
  }

  // ---- outbox -------------------------------------------------------------

  addPending(pending) {
    this.outbox.set(pending.id, {...pending, state: 'sending', error: null});
    this.saveOutbox();
    const c = this.ensureConv(pending.conv);
    if (c) c.lastActivity = Math.max(c.lastActivity, pending.createdAt);
    this.changed();
  }

  // Applies an ack: the pending send becomes a message with its seq.
  ack(frame) {
    const pending = this.outbox.get(frame.id);
    if (!pending) return null;
    this.outbox.delete(frame.id);
    this.saveOutbox();
    const message = {
      msg_id: frame.msg_id, conv: frame.conv, seq: frame.seq, ts: frame.ts,
      from: this.me.user_id, body: pending.body, id: frame.id, ...pending.target,
    };
    const c = this.addMessages(frame.conv, [message]);
    this.changed();
    return c;
  }

  failPending(id, error) {
    const p = this.outbox.get(id);
    if (!p) return;
    p.state = 'failed';
    p.error = error;
    this.changed();
  }

  retryPending(id) {
    const p = this.outbox.get(id);
    if (!p) return null;
    p.state = 'sending';
    p.error = null;
    this.changed();
    return p;
  }

  discardPending(id) {
    if (this.outbox.delete(id)) {
      this.saveOutbox();
      this.changed();
    }
  }

  pendingFor(conv) {
    return Array.from(this.outbox.values()).filter((p) => p.conv === conv);
  }

  sendable() {
    return Array.from(this.outbox.values()).filter((p) => p.state === 'sending');
  }

  // ---- read receipts ------------------------------------------------------

  // A read frame: our own cursor (another tab of ours) or another reader's.
  applyRead(conv, userId, seq) {
    const c = this.convs.get(conv);
    if (!c || !Number.isInteger(seq)) return;
    if (userId === this.me.user_id) {
      if (seq > c.readSeq) c.readSeq = seq;
    } else if (seq > (c.readBy.get(userId) || 0)) {
      c.readBy.set(userId, seq);
      this.saveReads();
    }
    this.changed();
  }

  markReadLocally(c, seq) {
    if (seq > c.readSeq) {
      c.readSeq = seq;
      this.changed();
    }
  }

  // 'sent' or 'read' for a message of ours; readers is how many others read it.
  deliveryState(c, message) {
    let readers = 0;
    for (const [userId, seq] of c.readBy) {
      if (userId !== this.me.user_id && seq >= message.seq) readers++;
    }
    return {state: readers ? 'read' : 'sent', readers};
  }
}

function normalize(m) {
  return {
    msg_id: String(m.msg_id ?? ''),
    conv: m.conv,
    seq: m.seq,
    from: m.from,
    body: typeof m.body === 'string' ? m.body : '',
    ts: Number(m.ts) || 0,
    id: m.id,
  };
}
