// Reads the visible page as lines of text and numbered interactive elements.
//
// Evaluated by Playwright as a function of one options object:
//   root:   CSS selector of the part of the page to read (default: the body)
//   skip:   element ids to leave out (with their subtree)
//   leaves: also number every visible element that holds only text (MiniWoB++'s convention: any element
//           can be clicked, e.g. <span class="alink">)
//   maxLabel / maxText: label lengths for controls / for text leaves
// It returns null while a navigation is pending (so that Playwright's waitForFunction keeps polling and
// re-runs it in the new document), else the JSON text of {title, url, items, elements, wob}. Each numbered element gets the
// attribute data-practicum-id="N" so that the next action can find it.
(opts) => {
  // A navigation started (beforeunload set the flag) but has not committed yet: wait for the new document.
  // A navigation that never commits (a 204 answer, a download) would keep the flag forever, so it expires.
  if (window.__practicumLeaving) {
    if (Date.now() - window.__practicumLeaving < 3000) return null;
    window.__practicumLeaving = 0;
  }
  if (document.readyState === 'loading' || !document.body) return null;
  const ATTR = 'data-practicum-id';
  for (const el of document.querySelectorAll('[' + ATTR + ']')) el.removeAttribute(ATTR);
  const root = (opts.root && document.querySelector(opts.root)) || document.body;
  const skip = new Set(opts.skip || []);
  const maxLabel = opts.maxLabel || 100;
  const maxText = opts.maxText || 1000;
  const items = [];
  const elements = [];
  let line = [];

  const SKIP_TAGS = new Set(['SCRIPT', 'STYLE', 'NOSCRIPT', 'TEMPLATE', 'HEAD', 'META', 'LINK', 'IFRAME',
    'svg', 'SVG', 'CANVAS', 'OPTION', 'OPTGROUP', 'DATALIST']);
  const ROLES = new Set(['button', 'link', 'checkbox', 'radio', 'tab', 'menuitem', 'menuitemcheckbox',
    'menuitemradio', 'option', 'switch', 'textbox', 'searchbox', 'combobox', 'treeitem', 'slider',
    'spinbutton', 'listbox']);
  // Roles whose subtree is fully described by the element itself.
  const LEAF_ROLES = new Set([...ROLES, 'text']);
  const CONTROLS = 'a[href],button,input,select,textarea,[role],[onclick],[contenteditable]';
  const INLINE = /^(inline|inline-block|inline-flex|inline-grid|contents|ruby|table-cell)$/;
  const TYPABLE = new Set(['textbox', 'searchbox', 'spinbutton']);

  const clean = (s) => (s || '').replace(/\s+/g, ' ').trim();
  const clip = (s, n) => (s.length > n ? s.slice(0, n - 1) + '…' : s);
  const flush = () => {
    const text = clean(line.join(' '));
    if (text) items.push({t: text});
    line = [];
  };

  // Labels already shown as the name of their control are not repeated as page text.
  const muted = new Set();
  for (const control of root.querySelectorAll('input,select,textarea')) {
    for (const label of control.labels || []) muted.add(label);
  }

  function inputRole(el) {
    switch ((el.getAttribute('type') || 'text').toLowerCase()) {
      case 'hidden': return null;
      case 'checkbox': return 'checkbox';
      case 'radio': return 'radio';
      case 'submit': case 'button': case 'reset': case 'image': return 'button';
      case 'search': return 'searchbox';
      case 'range': return 'slider';
      case 'number': return 'spinbutton';
      default: return 'textbox';
    }
  }

  function nativeRole(el) {
    switch (el.tagName) {
      case 'A': return el.hasAttribute('href') ? 'link' : null;
      case 'BUTTON': return 'button';
      case 'INPUT': return inputRole(el);
      case 'SELECT': return el.multiple ? 'listbox' : 'combobox';
      case 'TEXTAREA': return 'textbox';
      case 'SUMMARY': return 'button';
    }
    if (el.isContentEditable && !(el.parentElement && el.parentElement.isContentEditable)) return 'textbox';
    return null;
  }

  // A label's own words. A control inside the label is named by them, and its text (a drop-down's options,
  // which innerText includes) is the control's value, not part of its name.
  function labelText(label) {
    if (!label.querySelector('select, textarea, datalist')) return clean(label.innerText);
    const words = [];
    const walker = document.createTreeWalker(label, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const parent = node.parentElement;
      if (parent.closest('select, textarea, datalist')) continue;
      if (parent.checkVisibility && !parent.checkVisibility()) continue;  // as innerText would leave it out
      words.push(node.data);
    }
    return clean(words.join(' '));
  }

  const ownText = (el) => clean(Array.from(el.childNodes).filter((c) => c.nodeType === 3).map((c) => c.data).join(' '));
  const textOnly = (el) => !Array.from(el.childNodes).some((c) => c.nodeType === 1);

  function labelOf(el, role, container) {
    const aria = el.getAttribute('aria-label');
    if (aria) return clean(aria);
    if (el.tagName === 'INPUT' || el.tagName === 'TEXTAREA' || el.tagName === 'SELECT') {
      const labels = Array.from(el.labels || []).map(labelText).filter(Boolean);
      if (labels.length) return labels.join(' ');
      if (role === 'button') return clean(el.value);
      return clean(el.getAttribute('placeholder') || el.getAttribute('title') || el.getAttribute('name') || '');
    }
    if (container) return ownText(el);
    let text = clean(el.innerText);
    if (!text) {
      const img = el.querySelector('img[alt]');
      text = clean(el.getAttribute('title') || (img && img.getAttribute('alt')) || el.getAttribute('value') || '');
    }
    return text;
  }

  function emit(el, role, container) {
    flush();
    const id = elements.length + 1;
    el.setAttribute(ATTR, String(id));
    const info = {
      id, role, tag: el.tagName.toLowerCase(),
      label: clip(labelOf(el, role, container), role === 'text' ? maxText : maxLabel),
      disabled: !!el.disabled || el.getAttribute('aria-disabled') === 'true',
      focused: document.activeElement === el,
      typable: TYPABLE.has(role) && el.tagName !== 'SELECT' && !el.readOnly,
      search: role === 'searchbox',
      options: [],
    };
    if (!info.label) {
      // An icon without text (a star, a trash can, a close cross): its id or classes are the best name left.
      const cls = typeof el.className === 'string' ? clean(el.className) : '';
      if (el.id) info.hint = 'id: ' + el.id;
      else if (cls) info.hint = 'class: ' + clip(cls, 60);
    }
    if (el.tagName === 'INPUT' || el.tagName === 'TEXTAREA') {
      const type = (el.getAttribute('type') || 'text').toLowerCase();
      // Fields whose value has a format of its own (a date is typed as YYYY-MM-DD) say what they are.
      if (el.tagName === 'INPUT' && !['text', 'search', 'checkbox', 'radio', 'submit', 'button', 'reset'].includes(type)) {
        info.inputType = type;
      }
      if (role === 'checkbox' || role === 'radio') info.checked = el.checked;
      else if (role !== 'button') info.value = el.value;
    } else if (el.tagName === 'SELECT') {
      info.options = Array.from(el.options).map((o) => clean(o.label || o.text));
      if (el.multiple) {
        info.selected = Array.from(el.selectedOptions).map((o) => clean(o.label || o.text));
      } else {
        const chosen = el.options[el.selectedIndex];
        info.value = chosen ? clean(chosen.label || chosen.text) : '';
      }
    } else if (role === 'textbox') {
      info.value = clean(el.innerText);
    }
    elements.push(info);
    items.push({e: id - 1});
  }

  function walk(node, inPointer, mute) {
    if (node.nodeType === 3) {
      if (!mute) line.push(node.data);
      return;
    }
    if (node.nodeType !== 1) return;
    const el = node;
    if ((el.id && skip.has(el.id)) || SKIP_TAGS.has(el.tagName)) return;
    if (el.tagName === 'BR') { flush(); return; }
    const cs = getComputedStyle(el);
    if (cs.display === 'none') return;
    const rect = el.getBoundingClientRect();
    const boxed = rect.width > 0 && rect.height > 0;
    if (!boxed && cs.overflow !== 'visible') return; // clipped to nothing
    // Text for screen readers only (".sr-only", jQuery UI's live regions): a 1-pixel box clipped away.
    if (cs.position === 'absolute' && rect.width <= 1 && rect.height <= 1) return;
    if (cs.clip === 'rect(0px, 0px, 0px, 0px)' || cs.clipPath === 'inset(50%)') return;
    const visible = cs.visibility !== 'hidden' && cs.visibility !== 'collapse';
    const block = !INLINE.test(cs.display);
    const pointer = cs.cursor === 'pointer';
    let role = nativeRole(el);
    if (!role) {
      const aria = (el.getAttribute('role') || '').toLowerCase();
      if (ROLES.has(aria)) role = aria;
    }
    if (!role && (el.hasAttribute('onclick') || (pointer && !inPointer))) role = 'clickable';
    if (!role && opts.leaves && textOnly(el)) {
      // MiniWoB++ agents may click any element: text leaves, and empty ones named by an id or a class
      // (icons drawn by CSS, like a star or a trash can).
      if (ownText(el)) role = 'text';
      else if (el.id || (typeof el.className === 'string' && el.className.trim())) role = 'clickable';
    }
    if (el.tagName === 'INPUT' && role === null) return; // hidden input
    let muteDirect = !visible;
    if (role && visible && boxed) {
      // A clickable element holding controls is a container: it is numbered and its content read too. In
      // MiniWoB++ pages (leaves) any child element counts, since every element there can be clicked.
      const container = !LEAF_ROLES.has(role) && (opts.leaves ? !textOnly(el) : el.querySelector(CONTROLS) !== null);
      emit(el, role, container);
      if (!container) return;
      muteDirect = true; // a container's own text is its label; its children may still hold controls
    }
    if (block) flush();
    const muteSubtree = mute || muted.has(el);
    for (const child of el.childNodes) {
      walk(child, inPointer || pointer, muteSubtree || (child.nodeType === 3 && muteDirect));
    }
    if (block) flush();
  }

  walk(root, false, false);
  flush();
  const wob = typeof WOB_DONE_GLOBAL === 'undefined' ? null :
    {done: !!WOB_DONE_GLOBAL, raw: Number(WOB_RAW_REWARD_GLOBAL), reason: WOB_REWARD_REASON === null ? null : String(WOB_REWARD_REASON)};
  // A string, not an object: Playwright hands a primitive result back without another call into the page,
  // which could hang if the page started an endless loop right after answering.
  return JSON.stringify({title: document.title, url: location.href, items, elements, wob});
}
