/**
 * Reading a `%%step` cell: where its magic line is and what a name in it refers to.
 */
import { syntaxTree } from '@codemirror/language';
import { EditorState, Line } from '@codemirror/state';

import { IEntry, OpDocs } from './opdocs';

/** A cell is a STeP cell when its first non-blank line is the `%%step` cell magic. */
export const STEP_MAGIC = /^%%step(?:\s|$)/;

const MAX_LEADING_BLANK_LINES = 20;
const SKIPPED_NODES = /Comment|String/;

/** True when `source` (a whole cell) starts with `%%step`, after blank lines. */
export function isStepSource(source: string): boolean {
  return STEP_MAGIC.test(source.replace(/^(?:[ \t]*\r?\n)+/, ''));
}

/** The `%%step …` line of the document, or null when it is not a STeP cell. */
export function stepMagicLine(state: EditorState): Line | null {
  const last = Math.min(state.doc.lines, MAX_LEADING_BLANK_LINES + 1);
  for (let n = 1; n <= last; n++) {
    const line = state.doc.line(n);
    if (line.text.trim() !== '') {
      return STEP_MAGIC.test(line.text) ? line : null;
    }
  }
  return null;
}

/** What a name at `[from, to)` is: its CSS classes and, for ops/fns/knob/prog, its entry. */
export interface INameInfo {
  className: string;
  entry?: IEntry;
}

function slug(group: string): string {
  return group.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
}

function insideStringOrComment(state: EditorState, pos: number): boolean {
  for (let node: any = syntaxTree(state).resolveInner(pos, 1); node; node = node.parent) {
    if (SKIPPED_NODES.test(node.name)) {
      return true;
    }
  }
  return false;
}

/**
 * Classify the identifier `[from, to)`. `ops.Map` / `sl.ops.Map` / a bare `Map` are operators,
 * `fn.Matmul` / `Matmul` functions; `x.Map` (another qualifier) is not. `knob` counts only
 * when called, `prog` only unqualified. Names in strings and comments are skipped.
 */
export function classifyName(
  state: EditorState, from: number, to: number, docs: OpDocs
): INameInfo | null {
  const name = state.sliceDoc(from, to);
  const before = state.sliceDoc(Math.max(0, from - 12), from);
  const qualified = /\.\s*$/.test(before);
  const qualifier = /(?:^|[^\w.])(\w+)\s*\.\s*$/.exec(before)?.[1] ??
    /^(\w+)\s*\.\s*$/.exec(before)?.[1];
  const entry = docs.get(name);
  let info: INameInfo | null = null;
  if (name === 'prog' && !qualified) {
    info = { className: 'cm-step-prog', entry };
  } else if (name === 'knob' && !qualified && /^\s*\(/.test(state.sliceDoc(to, to + 8))) {
    info = { className: 'cm-step-knob', entry };
  } else if (entry && entry.namespace !== 'cell' && (!qualified || qualifier === entry.namespace)) {
    info = entry.namespace === 'ops'
      ? { className: `cm-step-op cm-step-group-${slug(entry.group)}`, entry }
      : { className: 'cm-step-fn', entry };
  }
  return info && !insideStringOrComment(state, from) ? info : null;
}
