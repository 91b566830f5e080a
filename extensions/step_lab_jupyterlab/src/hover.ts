/**
 * Hover documentation for the names of a `%%step` cell (signature, group, docstring).
 */
import { hoverTooltip } from '@codemirror/view';

import { IEntry, OpDocs } from './opdocs';
import { classifyName, stepMagicLine } from './scan';

/** Docstring text with ``code`` spans turned into <code> elements (no HTML is parsed). */
function appendDocText(parent: HTMLElement, text: string): void {
  text.split('``').forEach((part, i) => {
    if (i % 2 === 1) {
      const code = document.createElement('code');
      code.textContent = part;
      parent.appendChild(code);
    } else {
      parent.appendChild(document.createTextNode(part));
    }
  });
}

/** The tooltip body for one entry (also used by tests through the DOM classes). */
export function renderDoc(entry: IEntry): HTMLElement {
  const dom = document.createElement('div');
  dom.className = 'cm-step-tooltip';
  const signature = document.createElement('div');
  signature.className = 'cm-step-tooltip-signature';
  signature.textContent = entry.signature;
  const group = document.createElement('div');
  group.className = 'cm-step-tooltip-group';
  group.textContent = entry.group;
  const doc = document.createElement('div');
  doc.className = 'cm-step-tooltip-doc';
  appendDocText(doc, entry.doc);
  dom.append(signature, group, doc);
  return dom;
}

export function stepHover(docs: OpDocs) {
  return hoverTooltip((view, pos) => {
    if (!stepMagicLine(view.state)) {
      return null;
    }
    const word = view.state.wordAt(pos);
    const info = word && classifyName(view.state, word.from, word.to, docs);
    if (!word || !info?.entry) {
      return null;
    }
    const entry = info.entry;
    return { pos: word.from, end: word.to, create: () => ({ dom: renderDoc(entry) }) };
  }, { hoverTime: 350 });
}
