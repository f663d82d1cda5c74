// Small DOM helpers: an element builder and a keyed list reconciler, so that
// views update in place (keeping focus and scroll) instead of re-rendering.

// h('button', {class: 'x', onclick: f, 'aria-label': 'Go'}, 'text', child...)
// Text children are set through text nodes, never parsed as HTML.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') {
      el.addEventListener(name.slice(2), value);
    } else if (name === 'dataset') {
      Object.assign(el.dataset, value);
    } else {
      el.setAttribute(name, value === true ? '' : String(value));
    }
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

// Sets an attribute, or removes it when value is null/undefined/false.
export function setAttr(el, name, value) {
  if (value === undefined || value === null || value === false) {
    el.removeAttribute(name);
  } else {
    const text = value === true ? '' : String(value);
    if (el.getAttribute(name) !== text) el.setAttribute(name, text);
  }
}

export function setText(el, text) {
  const value = String(text);
  if (el.textContent !== value) el.textContent = value;
}

// Makes container's children match items, in order. Elements are created once
// per key with create(item) and refreshed with update(el, item); elements whose
// key is gone are removed. Existing elements are moved, not recreated.
export function reconcile(container, items, key, create, update) {
  const existing = new Map();
  for (const el of Array.from(container.children)) {
    if (el.dataset.key !== undefined) existing.set(el.dataset.key, el);
  }
  let cursor = container.firstElementChild;
  // Skip children that are not part of the keyed list (no data-key).
  const skipUnkeyed = () => {
    while (cursor && cursor.dataset.key === undefined) cursor = cursor.nextElementSibling;
  };
  const seen = new Set();
  for (const item of items) {
    const k = String(key(item));
    seen.add(k);
    let el = existing.get(k);
    if (!el) {
      el = create(item);
      el.dataset.key = k;
    }
    update(el, item);
    skipUnkeyed();
    if (el !== cursor) {
      container.insertBefore(el, cursor);
    } else {
      cursor = cursor.nextElementSibling;
    }
  }
  for (const [k, el] of existing) {
    if (!seen.has(k)) el.remove();
  }
}
