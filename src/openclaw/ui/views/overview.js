// The overview view (to be written): see views/README.md for the contract.
import { h } from "../dom.js";

export function mount(root, gateway, params) {
  root.append(h("h1", { text: "Overview" }), h("p", { text: "This view is not written yet." }));
  return { unmount() {} };
}
