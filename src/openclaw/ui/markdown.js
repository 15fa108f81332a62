// A small Markdown renderer for model replies that builds DOM nodes directly.
//
// Safety comes from construction, not from sanitising: every piece of text becomes a
// text node, the only elements created are the fixed set below, and the only
// attribute taken from the input is a link's href, kept only when it is an absolute
// http(s) or mailto URL. Raw HTML in the input is shown as the text it is. Images are
// shown as links (the page's CSP would not load another origin's image anyway).
//
// Covered: paragraphs (single newlines kept as line breaks), ATX headings, fenced code
// blocks (``` or ~~~; an unterminated one runs to the end, which is what a streaming
// reply looks like), block quotes, ordered and unordered lists
// (nested by indentation), horizontal rules, GFM pipe tables; inline code, **strong**,
// *em*, ~~strike~~, [links](url), <autolinks> and bare http(s) URLs, backslash escapes.

const SAFE_PROTOCOLS = new Set(["http:", "https:", "mailto:"]);
const PUNCTUATION = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

/** The href to use for `raw`, or null when it is not a safe absolute URL. */
export function safeHref(raw) {
  const text = String(raw ?? "").trim();
  // control characters and whitespace inside a scheme are how "java\tscript:" sneaks by
  if (!text || /[\u0000-\u001f\u007f\s]/.test(text)) return null;
  let url;
  try {
    url = new URL(text);
  } catch {
    return null; // relative or malformed: a model has no business linking into the UI
  }
  return SAFE_PROTOCOLS.has(url.protocol) ? url.href : null;
}

function el(tag, ...children) {
  const node = document.createElement(tag);
  for (const child of children) node.append(child);
  return node;
}

function link(href, children) {
  const safe = safeHref(href);
  if (safe === null) {
    // keep what the model wrote visible, but inert
    const span = el("span", ...children);
    span.className = "md-unsafe-link";
    span.title = "link not followed: only http, https and mailto links are";
    return span;
  }
  const a = el("a", ...children);
  a.href = safe;
  a.target = "_blank";
  a.rel = "noopener noreferrer nofollow";
  return a;
}

// ------------------------------------------------------------------ inline

function closing(text, delim, from) {
  // the next `delim` after `from` that is not escaped and has something before it
  let at = from;
  while ((at = text.indexOf(delim, at)) !== -1) {
    if (text[at - 1] !== "\\" && at > from) return at;
    at += 1;
  }
  return -1;
}

function isWordChar(ch) {
  return ch !== undefined && /[\p{L}\p{N}]/u.test(ch);
}

/** Inline Markdown of `text` as an array of nodes. */
export function inline(text) {
  const out = [];
  let plain = "";
  const flush = () => {
    if (plain) out.push(document.createTextNode(plain));
    plain = "";
  };
  let i = 0;
  while (i < text.length) {
    const ch = text[i];
    const rest = text.slice(i);
    if (ch === "\\" && PUNCTUATION.includes(text[i + 1] ?? "")) {
      plain += text[i + 1];
      i += 2;
      continue;
    }
    if (ch === "`") {
      const ticks = rest.match(/^`+/)[0];
      const end = text.indexOf(ticks, i + ticks.length);
      if (end !== -1) {
        flush();
        const code = text.slice(i + ticks.length, end);
        out.push(el("code", code.length > 2 && code.startsWith(" ") && code.endsWith(" ")
          ? code.slice(1, -1) : code));
        i = end + ticks.length;
        continue;
      }
      plain += ticks;
      i += ticks.length;
      continue;
    }
    if (ch === "!" && text[i + 1] === "[" || ch === "[") {
      const image = ch === "!";
      const m = text.slice(image ? i + 1 : i).match(/^\[((?:[^\[\]\\]|\\.|\[[^\[\]]*\])*)\]\(\s*<?([^\s()<>]*(?:\([^\s()]*\)[^\s()<>]*)*)>?(?:\s+"[^"]*")?\s*\)/);
      if (m) {
        flush();
        const label = m[1] || m[2];
        out.push(link(m[2], image ? [`image: ${label}`] : inline(label)));
        i += m[0].length + (image ? 1 : 0);
        continue;
      }
    }
    if (ch === "<") {
      const m = rest.match(/^<((?:https?|mailto):[^\s<>]+)>/i);
      if (m) {
        flush();
        out.push(link(m[1], [m[1]]));
        i += m[0].length;
        continue;
      }
    }
    if ((ch === "h" || ch === "H") && !isWordChar(text[i - 1])) {
      const m = rest.match(/^https?:\/\/[^\s<>"'`]+/i);
      if (m) {
        // trailing punctuation ends the sentence, not the URL
        let url = m[0].replace(/[.,:;!?'"]+$/, "");
        if (url.endsWith(")") && !url.includes("(")) url = url.slice(0, -1);
        flush();
        out.push(link(url, [url]));
        i += url.length;
        continue;
      }
    }
    const double = rest.slice(0, 2);
    if (double === "**" || double === "__" || double === "~~") {
      const end = closing(text, double, i + 2);
      if (end !== -1 && text[i + 2] !== " ") {
        flush();
        out.push(el(double === "~~" ? "del" : "strong", ...inline(text.slice(i + 2, end))));
        i = end + 2;
        continue;
      }
    }
    if ((ch === "*" || ch === "_") && text[i + 1] !== ch && text[i + 1] !== " " &&
        text[i + 1] !== undefined && !(ch === "_" && isWordChar(text[i - 1]))) {
      let end = closing(text, ch, i + 1);
      while (end !== -1 && (text[end + 1] === ch || text[end - 1] === " " ||
             (ch === "_" && isWordChar(text[end + 1])))) {
        end = closing(text, ch, end + (text[end + 1] === ch ? 2 : 1));
      }
      if (end !== -1) {
        flush();
        out.push(el("em", ...inline(text.slice(i + 1, end))));
        i = end + 1;
        continue;
      }
    }
    plain += ch;
    i += 1;
  }
  flush();
  return out;
}

/** Inline Markdown with single newlines kept as line breaks. */
function inlineLines(lines) {
  const out = [];
  lines.forEach((line, index) => {
    if (index > 0) out.push(document.createElement("br"));
    out.push(...inline(line.replace(/\s+$/, "")));
  });
  return out;
}

// ------------------------------------------------------------------ blocks

const FENCE = /^ {0,3}(`{3,}|~{3,})\s*([^`\s]*)[^`]*$/;
const HEADING = /^ {0,3}(#{1,6})(?:\s+(.*?))?\s*#*\s*$/;
const RULE = /^ {0,3}([-*_])(?:\s*\1){2,}\s*$/;
const QUOTE = /^ {0,3}> ?/;
const ITEM = /^( {0,3})([-*+]|\d{1,9}[.)])(\s+|$)/;
const TABLE_RULE = /^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$/;

function startsBlock(line) {
  return FENCE.test(line) || HEADING.test(line) || RULE.test(line) || QUOTE.test(line) ||
    ITEM.test(line);
}

function cells(line) {
  let row = line.trim();
  if (row.startsWith("|")) row = row.slice(1);
  if (row.endsWith("|") && !row.endsWith("\\|")) row = row.slice(0, -1);
  return row.split(/(?<!\\)\|/).map((cell) => cell.trim());
}

function blocks(lines, depth) {
  const out = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (!line.trim()) {
      i += 1;
      continue;
    }
    let m;
    if ((m = line.match(FENCE))) {
      const fence = m[1];
      const body = [];
      i += 1;
      while (i < lines.length && !(lines[i].trim().startsWith(fence) &&
             /^[`~]+$/.test(lines[i].trim()))) {
        body.push(lines[i]);
        i += 1;
      }
      i += 1; // the closing fence (or the end of an unfinished one)
      const code = el("code", body.join("\n"));
      if (m[2]) code.dataset.lang = m[2].slice(0, 40);
      out.push(el("pre", code));
      continue;
    }
    if ((m = line.match(HEADING))) {
      // the page has its own h1/h2: a reply's headings start at h3
      out.push(el(`h${Math.min(6, m[1].length + 2)}`, ...inline(m[2] ?? "")));
      i += 1;
      continue;
    }
    if (RULE.test(line)) {
      out.push(document.createElement("hr"));
      i += 1;
      continue;
    }
    if (QUOTE.test(line)) {
      const body = [];
      while (i < lines.length && lines[i].trim() && (QUOTE.test(lines[i]) || !startsBlock(lines[i]))) {
        body.push(lines[i].replace(QUOTE, ""));
        i += 1;
      }
      out.push(el("blockquote", ...nested(body, depth)));
      continue;
    }
    if ((m = line.match(ITEM))) {
      const ordered = /\d/.test(m[2]);
      const list = document.createElement(ordered ? "ol" : "ul");
      if (ordered && parseInt(m[2], 10) !== 1) list.start = parseInt(m[2], 10);
      while (i < lines.length) {
        const item = lines[i].match(ITEM);
        if (!item || /\d/.test(item[2]) !== ordered) break;
        const indent = item[1].length + item[2].length + Math.min(item[3].length || 1, 4);
        const body = [lines[i].slice(item[0].length)];
        i += 1;
        while (i < lines.length) {
          const next = lines[i];
          const lead = next.match(/^ */)[0].length;
          if (!next.trim()) {
            // a blank line continues the item only when indented content follows
            const after = lines[i + 1];
            if (after !== undefined && after.trim() && after.match(/^ */)[0].length >= indent) {
              body.push("");
              i += 1;
              continue;
            }
            break;
          }
          if (lead >= indent) body.push(next.slice(indent));
          else if (!startsBlock(next)) body.push(next.trim());
          else break;
          i += 1;
        }
        const li = document.createElement("li");
        const parts = nested(body, depth);
        // a one-paragraph item is shown without its <p>, as a tight list is
        if (parts.length && parts[0].tagName === "P") li.append(...parts.shift().childNodes);
        li.append(...parts);
        list.append(li);
        while (i < lines.length && !lines[i].trim() && ITEM.test(lines[i + 1] ?? "")) i += 1;
      }
      out.push(list);
      continue;
    }
    if (line.includes("|") && TABLE_RULE.test(lines[i + 1] ?? "") && lines[i + 1].includes("-")) {
      const head = cells(line);
      const table = el("table");
      table.append(el("thead", el("tr", ...head.map((cell) => el("th", ...inline(cell))))));
      const body = el("tbody");
      i += 2;
      while (i < lines.length && lines[i].trim() && lines[i].includes("|")) {
        const row = cells(lines[i]);
        body.append(el("tr", ...head.map((_, n) => el("td", ...inline(row[n] ?? "")))));
        i += 1;
      }
      table.append(body);
      const wrap = el("div", table);
      wrap.className = "scroll-x";
      out.push(wrap);
      continue;
    }
    const para = [];
    while (i < lines.length && lines[i].trim() && (para.length === 0 || !startsBlock(lines[i]))) {
      para.push(lines[i]);
      i += 1;
    }
    out.push(el("p", ...inlineLines(para)));
  }
  return out;
}

function nested(lines, depth) {
  // deep nesting is where naive renderers blow the stack: past 8 levels, show text
  if (depth >= 8) return [el("p", lines.join("\n"))];
  return blocks(lines, depth + 1);
}

/** `markdown` rendered as an array of block nodes (append them where they belong). */
export function renderMarkdown(markdown) {
  return blocks(String(markdown ?? "").replace(/\r\n?/g, "\n").split("\n"), 0);
}

/** Replace the children of `target` with `markdown` rendered; returns `target`. */
export function renderInto(target, markdown) {
  target.replaceChildren(...renderMarkdown(markdown));
  return target;
}
