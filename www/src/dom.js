// Building the page's DOM without HTML strings: everything a file or a server says reaches the
// page as text, never as markup.

/** An element: `h('td', { class: 'num', dataset: { sn: 3 } }, 'text', child, …)`. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'dataset') Object.assign(el.dataset, value);
    else if (name === 'style') Object.assign(el.style, value);
    else if (name.startsWith('on')) el.addEventListener(name.slice(2), value);
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  el.append(...children.flat().filter((c) => c !== undefined && c !== null && c !== false));
  return el;
}

/** Replaces the children of `el`. */
export function fill(el, ...children) {
  el.replaceChildren(...children.flat().filter((c) => c !== undefined && c !== null && c !== false));
  return el;
}

/** Saves `data` (a Blob, bytes or text) as a download named `name`. */
export function download(data, name, type = 'application/octet-stream') {
  const blob = data instanceof Blob ? data : new Blob([data], { type });
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: name, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/** `document.getElementById`, failing loudly when the page lacks the element. */
export function $(id) {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page has no #${id}`);
  return el;
}

/** Makes `target` accept dropped files, handing the first to `onFile`. */
export function dropTarget(target, onFile) {
  target.addEventListener('dragover', (e) => {
    if (![...e.dataTransfer.types].includes('Files')) return;
    e.preventDefault();
    target.classList.add('dragging');
  });
  target.addEventListener('dragleave', (e) => {
    if (!target.contains(e.relatedTarget)) target.classList.remove('dragging');
  });
  target.addEventListener('drop', (e) => {
    target.classList.remove('dragging');
    const file = e.dataTransfer.files[0];
    if (!file) return;
    e.preventDefault();
    onFile(file);
  });
}
