/**
 * STeP-aware highlighting of `%%step` cells: the magic line, operators (coloured by group),
 * tile functions, `knob(` and `prog`, as CodeMirror 6 mark decorations with `cm-step-*` classes.
 */
import { syntaxTree } from '@codemirror/language';
import { RangeSetBuilder, StateEffect } from '@codemirror/state';
import {
  Decoration, DecorationSet, EditorView, ViewPlugin, ViewUpdate, WidgetType
} from '@codemirror/view';

import { OpDocs } from './opdocs';
import { classifyName, stepMagicLine } from './scan';

const IDENTIFIER = /[A-Za-z_][A-Za-z0-9_]*/g;

/** Dispatched once the operator table has loaded, so open editors re-highlight. */
const refresh = StateEffect.define<null>();

class BadgeWidget extends WidgetType {
  constructor(readonly count: number) {
    super();
  }

  eq(other: BadgeWidget): boolean {
    return other.count === this.count;
  }

  toDOM(): HTMLElement {
    const badge = document.createElement('span');
    badge.className = 'cm-step-badge';
    badge.textContent = 'STeP';
    badge.title = `step_lab: ${this.count} operators and functions known; ` +
      'Tab completes after ops. / fn., hover a name for its documentation';
    return badge;
  }

  ignoreEvent(): boolean {
    return true;
  }
}

const magicLine = Decoration.line({ class: 'cm-step-magic-line' });
const magicMark = Decoration.mark({ class: 'cm-step-magic' });

function buildDecorations(view: EditorView, docs: OpDocs): DecorationSet {
  const state = view.state;
  const magic = stepMagicLine(state);
  if (!magic) {
    return Decoration.none;
  }
  const builder = new RangeSetBuilder<Decoration>();
  builder.add(magic.from, magic.from, magicLine);
  builder.add(magic.from, magic.to, magicMark);
  const badge = Decoration.widget({ widget: new BadgeWidget(docs.size), side: 1 });
  builder.add(magic.to, magic.to, badge);
  for (const { from, to } of view.visibleRanges) {
    const start = Math.max(from, magic.to + 1);
    if (start >= to) {
      continue;
    }
    for (const match of state.sliceDoc(start, to).matchAll(IDENTIFIER)) {
      const begin = start + (match.index ?? 0);
      const end = begin + match[0].length;
      const info = classifyName(state, begin, end, docs);
      if (info) {
        builder.add(begin, end, Decoration.mark({
          class: info.className, attributes: { 'data-step-name': match[0] }
        }));
      }
    }
  }
  return builder.finish();
}

/** Rebuilds the decorations on edits, scrolling, parse progress and when the docs arrive. */
class StepHighlighter {
  decorations: DecorationSet;
  alive = true;

  constructor(view: EditorView, readonly docs: OpDocs) {
    this.decorations = buildDecorations(view, docs);
    void docs.ready.then(() => {
      if (this.alive) {
        view.dispatch({ effects: refresh.of(null) });
      }
    });
  }

  update(update: ViewUpdate): void {
    const reloaded = update.transactions.some(tr => tr.effects.some(e => e.is(refresh)));
    if (update.docChanged || update.viewportChanged || reloaded ||
        syntaxTree(update.startState) !== syntaxTree(update.state)) {
      this.decorations = buildDecorations(update.view, this.docs);
    }
  }

  destroy(): void {
    this.alive = false;
  }
}

/** The highlighting view plugin for one operator table. */
export function stepHighlighter(docs: OpDocs) {
  return ViewPlugin.define(view => new StepHighlighter(view, docs), {
    decorations: plugin => plugin.decorations
  });
}
