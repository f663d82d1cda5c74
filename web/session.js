// The login session kept in localStorage, so that a reload stays logged in
// until logout or expiry: {token, user_id, username, expires_at}.

const KEY = 'parley.session';

export class SessionStore {
  constructor(storage) {
    this.storage = storage;
  }

  // The saved session, or null when there is none or it has expired.
  load(now = Date.now()) {
    let session = null;
    try {
      session = JSON.parse(this.storage.getItem(KEY) || 'null');
    } catch {
      session = null;
    }
    if (!session || typeof session.token !== 'string' || !session.user_id) return null;
    if (session.expires_at && session.expires_at <= now) {
      this.clear();
      return null;
    }
    return session;
  }

  save(session) {
    try {
      this.storage.setItem(KEY, JSON.stringify(session));
    } catch {
      // Storage disabled: the session lasts as long as the page.
    }
  }

  clear() {
    try {
      this.storage.removeItem(KEY);
    } catch {
      // nothing to clear
    }
  }
}
