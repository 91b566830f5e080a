/**
 * Completion of STeP names in `%%step` cells through JupyterLab's completer (Tab):
 * after `ops.` the operators, after `fn.` the tile functions, elsewhere all names.
 */
import {
  CompletionHandler, ICompletionContext, ICompletionProvider
} from '@jupyterlab/completer';

import { IEntry, OpDocs } from './opdocs';
import { isStepSource } from './scan';

const EMPTY = (offset: number): CompletionHandler.ICompletionItemsReply =>
  ({ start: offset, end: offset, items: [] });

function item(entry: IEntry): CompletionHandler.ICompletionItem {
  // One word: the completer shows the type in a narrow column (an operator's group).
  const type = { ops: entry.group, fn: 'function', cell: 'step' }[entry.namespace];
  return {
    label: entry.name,
    insertText: entry.name,
    type,
    documentation: `${entry.signature}\n\n${entry.doc}`
  };
}

/** The candidates for the text before the cursor (exported for reuse). */
export function candidates(before: string, docs: OpDocs): { prefix: string; entries: IEntry[] } {
  const prefix = /[A-Za-z_]\w*$/.exec(before)?.[0] ?? '';
  const head = before.slice(0, before.length - prefix.length);
  const qualifier = /(?:^|[^\w.])(?:sl\.)?(\w+)\.$/.exec(head)?.[1] ?? /^(\w+)\.$/.exec(head)?.[1];
  let pool: IEntry[];
  if (head.endsWith('.')) {
    if (qualifier !== 'ops' && qualifier !== 'fn') {
      return { prefix, entries: [] };
    }
    pool = docs.entries(qualifier);
  } else {
    pool = prefix ? docs.entries() : [];
  }
  const lower = prefix.toLowerCase();
  return { prefix, entries: pool.filter(e => e.name.toLowerCase().startsWith(lower)) };
}

export class StepCompletionProvider implements ICompletionProvider {
  readonly identifier = 'step-lab:operators';
  readonly rank = 1000;
  readonly renderer = null;

  constructor(private readonly _docs: OpDocs) {}

  async isApplicable(context: ICompletionContext): Promise<boolean> {
    const editor = context.editor;
    return !!editor && isStepSource(editor.model.sharedModel.getSource());
  }

  async fetch(
    request: CompletionHandler.IRequest
  ): Promise<CompletionHandler.ICompletionItemsReply> {
    if (!isStepSource(request.text)) {
      return EMPTY(request.offset);
    }
    await this._docs.ready;
    const { prefix, entries } = candidates(request.text.slice(0, request.offset), this._docs);
    return { start: request.offset - prefix.length, end: request.offset, items: entries.map(item) };
  }
}
