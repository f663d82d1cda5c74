// Modal forms (native <dialog>: focus stays inside, Escape closes). Each runs
// an async action on submit; an ApiError it throws is shown in the dialog.

import {errorText} from './format.js';

export class FormDialog {
  // action(values) -> Promise; values maps input ids to trimmed values.
  // errorContext picks wording for errors (see format.js errorText).
  constructor(doc, dialogId, action, errorContext = '') {
    this.dialog = doc.getElementById(dialogId);
    this.form = this.dialog.querySelector('form');
    this.error = this.dialog.querySelector('.error');
    this.inputs = Array.from(this.form.querySelectorAll('input, textarea'));
    this.buttons = Array.from(this.form.querySelectorAll('button'));
    this.action = action;
    this.errorContext = errorContext;
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.submit();
    });
    for (const button of this.form.querySelectorAll('[data-close]')) {
      button.addEventListener('click', () => this.close());
    }
  }

  open() {
    for (const input of this.inputs) input.value = '';
    this.error.textContent = '';
    this.setBusy(false);
    this.dialog.showModal();
    (this.inputs[0] || this.buttons[0]).focus();
  }

  close() {
    if (this.dialog.open) this.dialog.close();
  }

  setBusy(busy) {
    for (const button of this.buttons) button.disabled = busy;
    this.form.setAttribute('aria-busy', busy ? 'true' : 'false');
  }

  async submit() {
    const values = {};
    for (const input of this.inputs) values[input.id] = input.value.trim();
    for (const input of this.inputs) {
      if (input.required && !values[input.id]) {
        const label = this.form.querySelector(`label[for="${input.id}"]`);
        this.error.textContent = `${label ? label.textContent : 'This field'} is required.`;
        input.focus();
        return;
      }
    }
    this.error.textContent = '';
    this.setBusy(true);
    try {
      await this.action(values);
      this.close();
    } catch (error) {
      this.error.textContent = error && error.code ? errorText(error, this.errorContext) : String(error.message || error);
    } finally {
      this.setBusy(false);
    }
  }
}
