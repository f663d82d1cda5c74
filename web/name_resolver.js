// Looks up the names of the user ids the store has seen but cannot name
// (GET /api/v1/users/{id}) and teaches them to the store, which keeps them
// (also across reloads). Until a name arrives the views show `user #N`.
//
// At most one request per id: concurrent wants of an id share its lookup, an
// id the server does not know is not asked again, and one whose lookup failed
// otherwise is asked again only through retryFailed() (after a reconnect).
// At most MAX_IN_FLIGHT lookups run at once, the rest wait in order, so that
// opening a large group does not fire a request per member all at once.

export const MAX_IN_FLIGHT = 4;

export class NameResolver {
  // onAuthError(error) is told when a lookup found the session gone.
  constructor({api, store, onAuthError = () => {}}) {
    this.api = api;
    this.store = store;
    this.onAuthError = onAuthError;
    this.lookups = new Map();  // id -> {promise, resolve}, queued or in flight
    this.queue = [];           // ids waiting for a free slot, in want order
    this.inFlight = 0;
    this.unknown = new Set();  // ids the server answered 404 for
    this.failed = new Set();   // ids whose lookup failed otherwise
    this.timers = new Set();
    this.scheduled = false;
    this.stopped = false;
  }

  stop() {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.queue = [];
    for (const lookup of this.lookups.values()) lookup.resolve(null);
    this.lookups.clear();
  }

  // Looks up, once per task however often it is called, the ids the store
  // has noted since the last time.
  schedule() {
    if (this.scheduled || this.stopped) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      this.resolveWanted();
    });
  }

  resolveWanted() {
    for (const id of this.store.takeWantedNames()) {
      if (!this.unknown.has(id) && !this.failed.has(id)) this.resolve(id);
    }
  }

  // Asks again for the names whose lookups failed for a passing reason.
  retryFailed() {
    const ids = Array.from(this.failed);
    this.failed.clear();
    for (const id of ids) this.resolve(id);
  }

  // Resolves with the username, or null when it cannot be had (now).
  resolve(userId) {
    const known = this.store.names.get(userId);
    if (known) return Promise.resolve(known);
    if (this.stopped || this.unknown.has(userId)) return Promise.resolve(null);
    const pending = this.lookups.get(userId);
    if (pending) return pending.promise;
    let resolve;
    const promise = new Promise((r) => { resolve = r; });
    this.lookups.set(userId, {promise, resolve});
    this.failed.delete(userId);
    this.queue.push(userId);
    this.pump();
    return promise;
  }

  pump() {
    while (!this.stopped && this.inFlight < MAX_IN_FLIGHT && this.queue.length) {
      this.fetch(this.queue.shift());
    }
  }

  async fetch(userId) {
    this.inFlight++;
    let name = null;
    let retryInMs = 0;
    try {
      const user = await this.api.user(userId);
      if (user && user.user_id === userId && typeof user.username === 'string' && user.username) {
        name = user.username;
      } else {
        this.failed.add(userId);
      }
    } catch (error) {
      if (error.code === 'not_found') {
        this.unknown.add(userId);
      } else if (error.code === 'rate_limited') {
        // The server asked us to wait: the lookup stays pending meanwhile.
        retryInMs = Math.max(1, error.retryAfterSeconds || 1) * 1000;
      } else {
        this.failed.add(userId);
        if (error.code === 'unauthenticated' && !this.stopped) this.onAuthError(error);
      }
    } finally {
      this.inFlight--;
    }
    if (this.stopped) return;
    if (retryInMs) {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        this.queue.push(userId);
        this.pump();
      }, retryInMs);
      this.timers.add(timer);
    } else {
      const lookup = this.lookups.get(userId);
      this.lookups.delete(userId);
      if (name) this.store.learnName(userId, name);
      if (lookup) lookup.resolve(name);
    }
    this.pump();
  }
}
