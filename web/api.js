// The HTTP API of docs/wire-protocol.md. Every call resolves with the parsed JSON body
// (or null for 204) or rejects with an ApiError; nothing else escapes.

export class ApiError extends Error {
  // code: a protocol error code, or 'unreachable' when no HTTP answer came.
  constructor(code, message, status = 0, retryAfterSeconds = 0) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.status = status;
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

export class Api {
  // getToken() returns the bearer token or null; base is the origin ('' = same).
  constructor(getToken, base = '') {
    this.getToken = getToken;
    this.base = base;
  }

  async request(method, path, body) {
    const headers = {Accept: 'application/json'};
    const token = this.getToken();
    if (token) headers.Authorization = `Bearer ${token}`;
    const init = {method, headers, cache: 'no-store'};
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(this.base + path, init);
    } catch {
      throw new ApiError('unreachable', 'The server cannot be reached.');
    }
    if (response.status === 204) return null;
    let data = null;
    try {
      data = await response.json();
    } catch {
      data = null;
    }
    if (response.ok) {
      if (data === null) throw new ApiError('internal', 'The server sent an unreadable answer.', response.status);
      return data;
    }
    const error = data && data.error ? data.error : {};
    const retryAfter = Number.parseInt(response.headers.get('Retry-After') || '0', 10) || 0;
    const code = error.code || codeForStatus(response.status);
    throw new ApiError(code, error.message || response.statusText, response.status, retryAfter);
  }

  register(username, password) {
    return this.request('POST', '/api/v1/users', {username, password});
  }
  login(username, password) {
    return this.request('POST', '/api/v1/sessions', {username, password});
  }
  logout() {
    return this.request('DELETE', '/api/v1/sessions');
  }
  me() {
    return this.request('GET', '/api/v1/users/me');
  }
  user(userId) {
    return this.request('GET', `/api/v1/users/${encodeURIComponent(String(userId))}`);
  }
  userByName(username) {
    return this.request('GET', `/api/v1/users?username=${encodeURIComponent(username)}`);
  }
  createGroup(name, members) {
    return this.request('POST', '/api/v1/groups', {name, members});
  }
  group(groupId) {
    return this.request('GET', `/api/v1/groups/${groupId}`);
  }
  addMember(groupId, userId) {
    return this.request('POST', `/api/v1/groups/${groupId}/members`, {user_id: userId});
  }
  removeMember(groupId, userId) {
    return this.request('DELETE', `/api/v1/groups/${groupId}/members/${userId}`);
  }
  // One page of the conversation list; `before` is the previous page's `next`.
  conversations(before) {
    const suffix = before ? `?before=${encodeURIComponent(before)}` : '';
    return this.request('GET', `/api/v1/conversations${suffix}`);
  }
  // page: {after_seq?, before_seq?, limit?}
  messages(conv, page = {}) {
    const query = new URLSearchParams();
    for (const [name, value] of Object.entries(page)) {
      if (value !== undefined && value !== null) query.set(name, String(value));
    }
    const suffix = query.toString() ? `?${query}` : '';
    return this.request('GET', `/api/v1/conversations/${pathSegment(conv)}/messages${suffix}`);
  }
  // target: {to_user} or {to_group}
  send(id, target, body) {
    return this.request('POST', '/api/v1/messages', {id, ...target, body});
  }
  endpoints() {
    return this.request('GET', '/api/v1/endpoints');
  }
}

// Conversation ids contain ':' which is legal in a path segment; keep it
// readable rather than percent-encoded.
function pathSegment(text) {
  return encodeURIComponent(text).replace(/%3A/gi, ':');
}

function codeForStatus(status) {
  switch (status) {
    case 400: return 'invalid_argument';
    case 401: return 'unauthenticated';
    case 403: return 'permission_denied';
    case 404: return 'not_found';
    case 409: return 'already_exists';
    case 413: return 'payload_too_large';
    case 415: return 'unsupported_media_type';
    case 429: return 'rate_limited';
    case 503: return 'unavailable';
    default: return 'internal';
  }
}
