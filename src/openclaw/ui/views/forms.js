// Form fields from a JSON Schema (the one `config.schema` returns): one labelled input
// per leaf, named by its dotted path (data-path), so an error's `details.path` finds
// its field. Values read back as what a JSON merge patch wants: a typed value, or
// null for "not set" (the default applies).

import { h } from "../dom.js";

export const REDACTED = "__OPENCLAW_REDACTED__";

/** A schema description as plain text (the structs' docstrings quote with ``x``). */
export function plain(text) {
  return text ? String(text).replace(/``/g, "") : text;
}

/** Follow a local "$ref" ("#/$defs/X") and unwrap `anyOf: [T, {type: "null"}]`. */
export function resolve(schema, root) {
  let node = schema ?? {};
  for (let guard = 0; node.$ref && guard < 20; guard++) {
    node = node.$ref.replace(/^#\//, "").split("/").reduce((at, key) => at?.[key], root) ?? {};
  }
  if (Array.isArray(node.anyOf)) {
    const real = node.anyOf.filter((option) => option.type !== "null");
    if (real.length === 1) {
      return { ...resolve(real[0], root), nullable: true, default: node.default, description: node.description ?? real[0].description };
    }
  }
  return node;
}

function idFor(path) {
  return `cfg-${path.replace(/[^A-Za-z0-9]+/g, "-")}`;
}

function kindOf(node) {
  if (Array.isArray(node.enum)) return "enum";
  if (node.type === "boolean") return "boolean";
  if (node.type === "integer" || node.type === "number") return "number";
  if (node.type === "string") return "string";
  if (node.type === "array") return "array";
  if (node.type === "object" && node.properties) return "object";
  return "other";
}

function shown(value) {
  if (value === undefined || value === null) return "";
  if (Array.isArray(value)) return value.join(", ");
  return String(value);
}

/**
 * One field for `path`: returns {element, read(), initial, path, input}. `value` is the
 * file's value (undefined when unset), `effective` what the gateway uses.
 */
function leaf(path, name, node, value, effective) {
  const id = idFor(path);
  const kind = kindOf(node);
  const hintText = [plain(node.description), effective !== undefined && effective !== null && value === undefined
    ? `Not set: the default ${shown(effective) || "(empty)"} applies.` : null].filter(Boolean).join(" ");
  let input;
  let read;
  if (kind === "enum" || kind === "boolean") {
    const options = kind === "boolean" ? [true, false] : node.enum;
    input = h("select", { id, name: path },
      h("option", { value: "", text: `not set${effective !== undefined ? ` (${shown(effective)})` : ""}` }),
      options.map((option) => h("option", { value: String(option), text: String(option) })));
    input.value = value === undefined || value === null ? "" : String(value);
    read = () => (input.value === "" ? null : kind === "boolean" ? input.value === "true"
      : node.enum.find((option) => String(option) === input.value));
  } else if (kind === "number") {
    input = h("input", { id, name: path, type: "number", inputmode: "numeric",
      min: node.minimum, max: node.maximum, step: node.type === "integer" ? "1" : "any",
      placeholder: shown(effective), value: shown(value) });
    read = () => (input.value.trim() === "" ? null : Number(input.value));
  } else if (kind === "array") {
    const itemKind = kindOf(resolve(node.items ?? {}, {}));
    input = h("input", { id, name: path, placeholder: "comma-separated", value: shown(value), autocomplete: "off" });
    read = () => (input.value.trim() === "" ? null : input.value.split(",").map((part) => part.trim()).filter(Boolean)
      .map((part) => (itemKind === "number" && /^-?\d+(\.\d+)?$/.test(part) ? Number(part) : part)));
  } else {
    const secret = value === REDACTED;
    input = h("input", { id, name: path, type: secret ? "password" : "text", autocomplete: "off",
      placeholder: secret ? "stored secret (unchanged; type to replace)" : shown(effective),
      value: secret ? "" : shown(value) });
    read = () => (secret && input.value === "" ? REDACTED : input.value === "" ? null : input.value);
  }
  input.dataset.path = path;
  const hintId = `${id}-hint`;
  if (hintText) input.setAttribute("aria-describedby", hintId);
  const error = h("p", { class: "error", id: `${id}-error`, role: "alert", hidden: true });
  const element = h("div", { class: "field", "data-field-path": path },
    h("label", { for: id, text: name }), input,
    hintText ? h("p", { class: "hint", id: hintId, text: hintText }) : null, error);
  return { element, input, error, path, read, initial: JSON.stringify(read()) };
}

/**
 * The fields of an object node, recursively: nested objects become fieldsets, maps and
 * anything the form cannot edit are shown read-only. Appends to `fields` every leaf.
 */
export function objectFields(path, node, root, value, effective, fields) {
  const children = [];
  for (const [name, raw] of Object.entries(node.properties ?? {})) {
    if (name === "$schema") continue;
    const child = resolve(raw, root);
    const childPath = path ? `${path}.${name}` : name;
    const childValue = value?.[name];
    const childEffective = effective?.[name];
    const kind = kindOf(child);
    if (kind === "object") {
      children.push(h("fieldset", { "data-field-path": childPath },
        h("legend", { text: name }),
        child.description ? h("p", { class: "hint", text: plain(child.description) }) : null,
        objectFields(childPath, child, root, childValue, childEffective, fields)));
    } else if (kind === "other") {
      children.push(h("div", { class: "field", "data-field-path": childPath },
        h("p", {}, h("strong", { text: name }), " ", h("span", { class: "hint", text: "(edit with a patch below)" })),
        h("pre", { class: "mono scroll-x", text: JSON.stringify(childValue ?? childEffective ?? null, null, 2) })));
    } else {
      const field = leaf(childPath, name, child, childValue, childEffective);
      fields.push(field);
      children.push(field.element);
    }
  }
  return children;
}

/** Set `value` at the dotted `path` of the nested object `target` (for a merge patch). */
export function setPath(target, path, value) {
  const keys = path.split(".");
  let at = target;
  for (const key of keys.slice(0, -1)) at = at[key] ??= {};
  at[keys[keys.length - 1]] = value;
  return target;
}
