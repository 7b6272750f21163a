// What tests/test_app_every_page_browser.py measures on a rendered page, in the page itself.
//
// Called as page.evaluate(source, options) with options = {lang: "zh" | "en", data: [strings of
// user data to leave out of the language checks], allow: [Latin words allowed on Chinese pages]}.
// Returns {violations: [{check, selector, value, text}], unmeasured: [...]} where `unmeasured` lists
// text that sits on a background image (a photo or url() picture): its contrast cannot be computed
// from colours, so it is reported apart, never passed silently.
(options) => {
  const violations = [];
  const unmeasured = [];
  const root = document.documentElement;
  const viewportWidth = root.clientWidth;  // the viewport without a vertical scrollbar

  // --- helpers ------------------------------------------------------------------------------
  const selectorOf = (el) => {
    const parts = [];
    for (let e = el; e && e.nodeType === 1 && parts.length < 4; e = e.parentElement) {
      if (e.id) { parts.unshift(`#${CSS.escape(e.id)}`); break; }
      let part = e.tagName.toLowerCase();
      const classes = [...e.classList].slice(0, 2);
      if (classes.length) part += "." + classes.map((c) => CSS.escape(c)).join(".");
      const parent = e.parentElement;
      if (parent) {
        const same = [...parent.children].filter((c) => c.tagName === e.tagName);
        if (same.length > 1) part += `:nth-of-type(${same.indexOf(e) + 1})`;
      }
      parts.unshift(part);
      if (e.tagName === "MAIN" || e.tagName === "HEADER") break;
    }
    return parts.join(" > ");
  };
  const snippet = (text) => (text || "").replace(/\s+/g, " ").trim().slice(0, 40);
  const add = (check, el, value, text) =>
    violations.push({ check, selector: selectorOf(el), value, text: snippet(text ?? el.textContent) });

  const rgba = (css) => {
    const m = css && css.match(/rgba?\(([^)]+)\)/);
    if (!m) return null;
    const v = m[1].split(/[\s,/]+/).filter(Boolean).map(Number);
    return [v[0], v[1], v[2], v.length > 3 ? v[3] : 1];
  };
  const over = (top, bottom) => {  // `top` (with alpha) composited over an opaque `bottom`
    const a = top[3];
    return [0, 1, 2].map((i) => top[i] * a + bottom[i] * (1 - a)).concat(1);
  };
  const luminance = (c) => [0, 1, 2]
    .map((i) => { const v = c[i] / 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; })
    .reduce((sum, v, i) => sum + v * [0.2126, 0.7152, 0.0722][i], 0);
  const ratio = (a, b) => {
    const [x, y] = [luminance(a), luminance(b)];
    return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05);
  };

  // The backgrounds an element's text is painted on: each candidate is an opaque colour made by
  // compositing every translucent background from the first opaque one (or the white canvas) up
  // to the element. A gradient gives one candidate per colour stop (the text must read on each);
  // a url() image gives none: the caller reports the text as unmeasured.
  const backdrops = (el) => {
    const layers = [];
    let bases = null;
    for (let e = el; e; e = e.parentElement) {
      const style = getComputedStyle(e);
      const image = style.backgroundImage;
      const colour = rgba(style.backgroundColor);
      if (image && image !== "none") {
        if (/url\(/.test(image)) return null;
        const stops = (image.match(/rgba?\([^)]+\)/g) || []).map(rgba);
        if (stops.length) {
          const below = colour && colour[3] > 0 ? over(colour, [255, 255, 255]) : [255, 255, 255];
          bases = stops.map((s) => over(s, below));
          break;
        }
      }
      if (colour && colour[3] > 0) {
        if (colour[3] >= 1) { bases = [colour]; break; }
        layers.push(colour);
      }
    }
    bases = bases || [[255, 255, 255, 1]];
    return bases.map((base) => layers.reduceRight((below, layer) => over(layer, below), base));
  };
  const opacityOf = (el) => {
    let o = 1;
    for (let e = el; e; e = e.parentElement) o *= Number(getComputedStyle(e).opacity);
    return o;
  };
  const shown = (el) => {
    const style = getComputedStyle(el);
    if (style.visibility !== "visible" || style.display === "none") return false;
    const box = el.getBoundingClientRect();
    return box.width > 1 && box.height > 1 && box.right > 0 && box.bottom > -window.scrollY;
  };
  // WCAG exempts the text of inactive controls from the contrast rule.
  const inactive = (el) => el.closest(":disabled, [aria-disabled=true]") !== null;
  // While a modal dialog is open, what lies behind its backdrop is inert: dimmed and out of reach.
  const modal = document.querySelector("dialog:modal");
  const behindModal = (el) => modal !== null && !modal.contains(el);

  // --- 1. no horizontal scrolling ------------------------------------------------------------
  if (root.scrollWidth > viewportWidth + 0.5) {
    // Name what sticks out: the deepest elements past the right edge that no ancestor clips.
    const clipped = (e) => { for (let p = e.parentElement; p; p = p.parentElement) {
      if (getComputedStyle(p).overflowX !== "visible") return p !== document.body && p !== root; } return false; };
    const out = [...document.body.querySelectorAll("*")]
      .filter((e) => e.getBoundingClientRect().right > viewportWidth + 0.5 && !clipped(e) && shown(e))
      .filter((e, _, all) => !all.some((o) => o !== e && e.contains(o)));
    const culprits = out.slice(0, 3).map((e) => `${selectorOf(e)} right=${Math.round(e.getBoundingClientRect().right)}`);
    violations.push({ check: "horizontal-scroll", selector: culprits.join("; ") || "html",
                      value: `scrollWidth ${root.scrollWidth} > ${viewportWidth}`, text: "" });
  }

  // --- the visible text, once per element -----------------------------------------------------
  const textElements = new Map();  // element → its visible text
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (!/[\p{L}\p{N}]/u.test(node.data)) continue;
    const el = node.parentElement;
    if (!el || ["SCRIPT", "STYLE", "NOSCRIPT", "TEMPLATE", "OPTION"].includes(el.tagName)) continue;
    const range = document.createRange();
    range.selectNodeContents(node);
    const box = range.getBoundingClientRect();
    if (box.width < 1 || box.height < 1 || !shown(el) || opacityOf(el) === 0) continue;
    textElements.set(el, (textElements.get(el) || "") + node.data);
  }
  // Form controls paint their value (or placeholder) themselves.
  for (const el of document.querySelectorAll("input:not([type=hidden]):not([type=checkbox]):not([type=radio]):not([type=file]):not([type=range]):not([type=color]), select, textarea")) {
    if (!shown(el)) continue;
    const text = el.tagName === "SELECT" ? (el.selectedOptions[0] || {}).text : (el.value || el.placeholder);
    if (text && /[\p{L}\p{N}]/u.test(text)) textElements.set(el, text);
  }

  // --- 2. contrast -------------------------------------------------------------------------------
  for (const [el, text] of textElements) {
    if (inactive(el) || behindModal(el)) continue;
    const style = getComputedStyle(el);
    const isSvg = el instanceof SVGElement;
    const placeholder = (el.tagName === "INPUT" || el.tagName === "TEXTAREA") && !el.value;
    let fg = rgba(isSvg ? style.fill : placeholder ? getComputedStyle(el, "::placeholder").color : style.color);
    if (!fg) continue;  // an SVG fill of none or a pattern: no text colour to measure
    const grounds = backdrops(el);
    if (grounds === null) { unmeasured.push({ selector: selectorOf(el), text: snippet(text) }); continue; }
    const size = parseFloat(style.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
    const need = large ? 3 : 4.5;
    const opacity = opacityOf(el);
    const worst = Math.min(...grounds.map((bg) => ratio(over([fg[0], fg[1], fg[2], fg[3] * opacity], bg), bg)));
    if (worst < need - 0.005) {
      const shown_ = `${worst.toFixed(2)}:1 < ${need}:1 (${style.color} on ${grounds.map((g) => `rgb(${g.slice(0, 3).map(Math.round).join(",")})`).join("|")}, ${size}px)`;
      add("contrast", el, shown_, text);
    }
  }

  // --- 3. tap targets ------------------------------------------------------------------------------
  const controls = "a[href], button, input:not([type=hidden]), select, [role=button], summary";
  const isControl = (e) => e.matches(controls + ", textarea");
  const targets = new Set(document.querySelectorAll(controls));
  for (const label of document.querySelectorAll("label")) {
    if (label.control) targets.add(label);  // a label wired to a control (for= or wrapping) is tapped too
  }
  // A link inside running text (a sentence) is exempt, as in WCAG 2.5.5: it is display:inline and
  // the block it sits in has words of its own, outside any control.
  const inSentence = (el) => {
    if (el.tagName !== "A" || getComputedStyle(el).display !== "inline") return false;
    let block = el.parentElement;
    while (block && getComputedStyle(block).display.startsWith("inline")) block = block.parentElement;
    if (!block) return false;
    const words = document.createTreeWalker(block, NodeFilter.SHOW_TEXT);
    for (let n = words.nextNode(); n; n = words.nextNode()) {
      let inControl = false;
      for (let p = n.parentElement; p && p !== block; p = p.parentElement) if (isControl(p)) inControl = true;
      if (!inControl && /[\p{L}\p{N}]{2,}|\p{Script=Han}/u.test(n.data)) return true;
    }
    return false;
  };
  // A control that a clipping ancestor (overflow hidden, as the console's one-screen layout has)
  // cuts, with no scroll container between them, can never be reached: name the missing pixels.
  const clips = (v) => v === "hidden" || v === "clip";
  const cutOff = (el) => {
    const box = el.getBoundingClientRect();
    for (let p = el.parentElement; p; p = p.parentElement) {
      const style = getComputedStyle(p);
      const isRoot = p === document.body || p === root;
      if (!isRoot && (/(auto|scroll)/.test(style.overflowX + style.overflowY))) return null;
      if (isRoot) {
        // overflow on <body> or <html> goes to the viewport: hidden there means the page never scrolls
        const y = clips(getComputedStyle(document.body).overflowY) || clips(getComputedStyle(root).overflowY);
        const below = box.bottom - window.innerHeight;
        return y && below > 1 ? `${Math.round(below)} px below the screen, which does not scroll` : null;
      }
      const frame = p.getBoundingClientRect();
      if (clips(style.overflowY) && (box.bottom > frame.bottom + 1 || box.top < frame.top - 1)) {
        return `${Math.round(Math.max(box.bottom - frame.bottom, frame.top - box.top))} px cut by ${selectorOf(p)}`;
      }
      if (clips(style.overflowX) && (box.right > frame.right + 1 || box.left < frame.left - 1)) {
        return `${Math.round(Math.max(box.right - frame.right, frame.left - box.left))} px cut by ${selectorOf(p)}`;
      }
    }
    return null;
  };
  for (const el of targets) {
    if (!shown(el) || behindModal(el)) continue;
    const type = (el.getAttribute("type") || "").toLowerCase();
    if (el.tagName === "INPUT" && (type === "checkbox" || type === "radio") && el.labels && el.labels.length) {
      continue;  // its label is the target and is measured as one
    }
    const cut = cutOff(el);
    if (cut) add("cut-off", el, cut);
    // A button's or link's words that spill out of it (a longer translation, a price with its
    // badge): the box is drawn, the words run over its edge. Fields scroll their text themselves.
    if (!["INPUT", "SELECT", "TEXTAREA"].includes(el.tagName) && el.scrollWidth > el.clientWidth + 1
        && el.clientWidth > 0 && getComputedStyle(el).overflowX === "visible") {
      add("spills-out", el, `${el.scrollWidth - el.clientWidth} px wider than its ${el.clientWidth} px box`);
    }
    if (inSentence(el)) continue;
    // A label beside a text field or list that is itself big enough: the field is the target (WCAG
    // 2.5.8's "equivalent" exception), the label only a second way to it.
    if (el.tagName === "LABEL" && el.control && !["checkbox", "radio"].includes(el.control.type)) {
      const field = el.control.getBoundingClientRect();
      if (field.width >= 43.5 && field.height >= 43.5) continue;
    }
    const box = el.getBoundingClientRect();
    if (box.width < 43.5 || box.height < 43.5) {
      add("tap-target", el, `${Math.round(box.width)}×${Math.round(box.height)} px`);
    }
  }

  // --- 4 and 5. one language per page --------------------------------------------------------------
  const data = [...options.data].filter(Boolean).sort((a, b) => b.length - a.length);
  const withoutData = (text) => data.reduce((t, d) => t.split(d).join(" "), text);
  const pageLang = options.lang;
  const otherLanguage = (el) => {  // a part marked as the other language (the 中文 | English switch)
    const marked = el.closest("[lang]");
    return marked && !marked.getAttribute("lang").toLowerCase().startsWith(pageLang);
  };
  const texts = [...textElements].map(([el, text]) => [el, text]);
  for (const el of document.querySelectorAll("select")) {
    if (shown(el)) for (const o of el.options) texts.push([el, o.text]);  // the list the farmer opens
  }
  for (const el of document.querySelectorAll("[placeholder], input[type=submit][value], input[type=button][value]")) {
    if (shown(el)) texts.push([el, el.getAttribute("placeholder") || el.value]);
  }
  for (const el of document.querySelectorAll("[title]")) {
    if (shown(el) && el.tagName !== "svg") texts.push([el, el.getAttribute("title")]);
  }
  texts.push([root, document.title]);
  const allow = new Set(options.allow);
  const reported = new Set();
  for (const [el, text] of texts) {
    if (el !== root && otherLanguage(el)) continue;
    const clean = withoutData(text);
    let found;
    if (pageLang === "zh") {
      // A file name's extension (A001.jpg, .xlsx) is a name on the person's disk, not a word.
      found = (clean.match(/(?<![.\w])[A-Za-z]{2,}(?!\w)/g) || []).filter((w) => !allow.has(w));
    } else {
      found = clean.match(/[\u2E80-\u9FFF\uF900-\uFAFF\u3000-\u303F\uFF01-\uFF5E\uFFE5]+/g) || [];
    }
    if (!found.length) continue;
    const key = `${selectorOf(el)}|${found.join(",")}`;
    if (reported.has(key)) continue;
    reported.add(key);
    add(pageLang === "zh" ? "english-on-chinese-page" : "chinese-on-english-page", el, found.join(" "), text);
  }
  return { violations, unmeasured };
}
