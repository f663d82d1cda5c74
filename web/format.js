// Formatting for display: byte counts, times, user names and error texts.

const encoder = new TextEncoder();

// The protocol limits bodies in bytes of UTF-8, not in characters.
export function utf8Length(text) {
  return encoder.encode(text).length;
}

export function formatTime(ts, now = Date.now()) {
  const date = new Date(ts);
  const today = new Date(now);
  const time = date.toLocaleTimeString([], {hour: '2-digit', minute: '2-digit'});
  if (date.toDateString() === today.toDateString()) return time;
  return `${date.toLocaleDateString([], {month: 'short', day: 'numeric'})} ${time}`;
}

export function formatDateTime(ts) {
  return new Date(ts).toLocaleString();
}

// A one-line preview of a message body for the conversation list.
export function preview(body, max = 80) {
  const line = body.replace(/\s+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

// Human text for an ApiError (see api.js) in the context of an action.
export function errorText(error, action = '') {
  if (!error || !error.code) return 'Something went wrong.';
  switch (error.code) {
    case 'unreachable':
      return 'Cannot reach the server. Check your connection and try again.';
    case 'rate_limited': {
      const wait = error.retryAfterSeconds;
      return wait ? `Too many attempts. Try again in ${wait} s.` : 'Too many attempts. Try again shortly.';
    }
    case 'unauthenticated':
      return action === 'login' ? 'Wrong username or password.' : 'Your session has ended. Please log in again.';
    case 'already_exists':
      return action === 'register' ? 'That username is taken.' : error.message || 'It already exists.';
    case 'not_found':
      return action === 'user' ? 'No user with that name.' : error.message || 'Not found.';
    case 'permission_denied':
      return 'You are not allowed to do that.';
    case 'unavailable':
      return 'The server is busy or restarting. Try again in a moment.';
    case 'payload_too_large':
      return 'That is too large.';
    case 'invalid_argument':
      return error.message || 'Some input is not valid.';
    default:
      return error.message || 'Something went wrong on the server.';
  }
}
