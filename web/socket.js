// One WebSocket to the connect tier that stays up by itself: it reconnects
// with exponential backoff and jitter, and detects a dead link with pings.
//
// Events (all CustomEvent, payload in `detail`):
//   'state'  {state, retryInMs}  state: 'connecting' | 'open' | 'waiting' | 'stopped'
//   'frame'  a parsed server frame (every type except 'pong')
//   'fatal'  {code, reason}      the server refused us for good (4001); stopped

export const SocketState = Object.freeze({
  CONNECTING: 'connecting',
  OPEN: 'open',
  WAITING: 'waiting',
  STOPPED: 'stopped',
});

const CLOSE_UNAUTHENTICATED = 4001;
const CLOSE_POLICY = 4008;

export class FatalConnectError extends Error {}

export class ChatSocket extends EventTarget {
  // resolveUrl(attempt): resolves to the ws:// URL to use (without the token),
  // or rejects (FatalConnectError stops for good; anything else retries).
  constructor({token, resolveUrl, baseDelayMs = 500, maxDelayMs = 15000,
               heartbeatMs = 20000, heartbeatTimeoutMs = 10000, random = Math.random}) {
    super();
    this.token = token;
    this.resolveUrl = resolveUrl;
    this.baseDelayMs = baseDelayMs;
    this.maxDelayMs = maxDelayMs;
    this.heartbeatMs = heartbeatMs;
    this.heartbeatTimeoutMs = heartbeatTimeoutMs;
    this.random = random;
    this.state = SocketState.STOPPED;
    this.ws = null;
    this.attempt = 0;          // consecutive failed attempts
    this.retryTimer = null;
    this.heartbeatTimer = null;
    this.lastFrameAt = 0;
    this.generation = 0;       // invalidates callbacks of replaced sockets
  }

  start() {
    if (this.state !== SocketState.STOPPED) return;
    this.connect();
  }

  stop() {
    this.generation++;
    clearTimeout(this.retryTimer);
    this.stopHeartbeat();
    if (this.ws) {
      discard(this.ws, 1000);
      this.ws = null;
    }
    this.setState(SocketState.STOPPED);
  }

  // Skips the remaining backoff wait (e.g. the browser came back online).
  reconnectNow() {
    if (this.state !== SocketState.WAITING) return;
    clearTimeout(this.retryTimer);
    this.connect();
  }

  isOpen() {
    return this.state === SocketState.OPEN && this.ws && this.ws.readyState === WebSocket.OPEN;
  }

  // Sends one frame; false when not connected (the caller keeps it for later).
  send(frame) {
    if (!this.isOpen()) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  async connect() {
    const generation = ++this.generation;
    this.setState(SocketState.CONNECTING);
    let url;
    try {
      url = await this.resolveUrl(this.attempt);
    } catch (error) {
      if (generation !== this.generation) return;
      if (error instanceof FatalConnectError) {
        this.fail(CLOSE_UNAUTHENTICATED, error.message);
      } else {
        this.scheduleRetry();
      }
      return;
    }
    if (generation !== this.generation) return;
    const separator = url.includes('?') ? '&' : '?';
    let ws;
    try {
      ws = new WebSocket(`${url}${separator}token=${encodeURIComponent(this.token)}`);
    } catch {
      this.scheduleRetry();
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      if (generation !== this.generation) return;
      this.lastFrameAt = Date.now();
      this.setState(SocketState.OPEN);
      this.startHeartbeat(generation);
    };
    ws.onmessage = (event) => {
      if (generation !== this.generation) return;
      this.lastFrameAt = Date.now();
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;  // not ours to act on; the server never sends this
      }
      if (!frame || typeof frame !== 'object') return;
      // A frame proves the link works: the next drop starts backoff afresh.
      this.attempt = 0;
      if (frame.type === 'pong') return;
      this.dispatchEvent(new CustomEvent('frame', {detail: frame}));
    };
    ws.onerror = () => { /* onclose follows and decides */ };
    ws.onclose = (event) => {
      if (generation !== this.generation) return;
      this.ws = null;
      this.stopHeartbeat();
      if (event.code === CLOSE_UNAUTHENTICATED) {
        this.fail(event.code, event.reason);
        return;
      }
      // A policy close means we were too fast: wait at least a few seconds.
      if (event.code === CLOSE_POLICY) this.attempt = Math.max(this.attempt, 3);
      this.scheduleRetry();
    };
  }

  fail(code, reason) {
    this.stop();
    this.dispatchEvent(new CustomEvent('fatal', {detail: {code, reason}}));
  }

  scheduleRetry() {
    this.generation++;
    const ceiling = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** this.attempt);
    // "Equal jitter": never less than half the ceiling, so a crowd of clients
    // spreads out without any of them hammering the server.
    const delay = Math.round(ceiling / 2 + this.random() * ceiling / 2);
    this.attempt++;
    this.setState(SocketState.WAITING, delay);
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  startHeartbeat(generation) {
    this.stopHeartbeat();
    this.heartbeatTimer = setInterval(() => {
      if (generation !== this.generation || !this.ws) return;
      if (Date.now() - this.lastFrameAt > this.heartbeatMs + this.heartbeatTimeoutMs) {
        // Silent for too long: the link is dead even if the browser has not noticed.
        discard(this.ws, 4000);
        this.ws = null;
        this.stopHeartbeat();
        this.scheduleRetry();
        return;
      }
      this.send({type: 'ping'});
    }, this.heartbeatMs);
  }

  stopHeartbeat() {
    clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = null;
  }

  setState(state, retryInMs = 0) {
    this.state = state;
    this.dispatchEvent(new CustomEvent('state', {detail: {state, retryInMs}}));
  }
}

// Closes a socket we no longer want, without hearing from it again. One
// still connecting is closed once open: closing it earlier makes the browser
// log an error to the console.
function discard(ws, code) {
  ws.onmessage = ws.onclose = ws.onerror = null;
  if (ws.readyState === WebSocket.CONNECTING) {
    ws.onopen = () => ws.close(code);
    return;
  }
  ws.onopen = null;
  try {
    ws.close(code);
  } catch {
    // already closing
  }
}
