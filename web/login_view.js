// The login/register screen. Checks the protocol's limits before asking the
// server, so that most mistakes are explained without a round trip.

const USERNAME = /^[A-Za-z0-9_.-]{3,32}$/;

export class LoginView {
  // onSubmit(action, username, password) -> Promise; action: 'login' | 'register'.
  constructor(doc, onSubmit) {
    this.screen = doc.getElementById('login-screen');
    this.form = doc.getElementById('login-form');
    this.username = doc.getElementById('login-username');
    this.password = doc.getElementById('login-password');
    this.error = doc.getElementById('login-error');
    this.buttons = Array.from(this.form.querySelectorAll('button'));
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      const action = event.submitter && event.submitter.value === 'register' ? 'register' : 'login';
      this.submit(action, onSubmit);
    });
  }

  async submit(action, onSubmit) {
    const username = this.username.value.trim();
    const password = this.password.value;
    const problem = validate(action, username, password);
    if (problem) {
      this.setError(problem.text);
      problem.field(this).focus();
      return;
    }
    this.setError('');
    this.setBusy(true);
    try {
      await onSubmit(action, username, password);
    } finally {
      this.setBusy(false);
    }
  }

  show(message = '') {
    this.screen.hidden = false;
    this.password.value = '';
    this.setError(message);
    (this.username.value ? this.password : this.username).focus();
  }

  hide() {
    this.screen.hidden = true;
    this.setError('');
  }

  setError(text) {
    this.error.textContent = text;
    this.username.setAttribute('aria-invalid', text ? 'true' : 'false');
    this.password.setAttribute('aria-invalid', text ? 'true' : 'false');
  }

  setBusy(busy) {
    for (const button of this.buttons) button.disabled = busy;
    this.form.setAttribute('aria-busy', busy ? 'true' : 'false');
  }
}

function validate(action, username, password) {
  if (!username) return {text: 'Enter a username.', field: (v) => v.username};
  if (!password) return {text: 'Enter a password.', field: (v) => v.password};
  if (action === 'register') {
    if (!USERNAME.test(username)) {
      return {text: 'A username has 3 to 32 letters, digits, dots, dashes or underscores.',
              field: (v) => v.username};
    }
    const bytes = new TextEncoder().encode(password).length;
    if (bytes < 8 || bytes > 128) {
      return {text: 'A password has 8 to 128 characters.', field: (v) => v.password};
    }
  }
  return null;
}
