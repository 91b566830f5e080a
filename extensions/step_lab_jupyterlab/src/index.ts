/**
 * step-lab-jupyterlab: STeP-aware `%%step` cells in JupyterLab 4.
 *
 * - highlighting of the magic line, operators (by group), tile functions, `knob(` and `prog`
 * - hover documentation and Tab completion drawn from step_lab's own docstrings (opdocs.json)
 */
import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { EditorExtensionRegistry, IEditorExtensionRegistry } from '@jupyterlab/codemirror';
import { ICompletionProviderManager } from '@jupyterlab/completer';

import { StepCompletionProvider } from './completer';
import { stepHighlighter } from './highlight';
import { stepHover } from './hover';
import { EXTENSION_NAME, OpDocs } from './opdocs';

const plugin: JupyterFrontEndPlugin<void> = {
  id: `${EXTENSION_NAME}:plugin`,
  description: 'STeP-aware highlighting, completion and hover docs for %%step cells.',
  autoStart: true,
  requires: [IEditorExtensionRegistry],
  optional: [ICompletionProviderManager],
  activate: (
    app: JupyterFrontEnd,
    editors: IEditorExtensionRegistry,
    completions: ICompletionProviderManager | null
  ): void => {
    const docs = new OpDocs();
    editors.addExtension({
      name: `${EXTENSION_NAME}:step-cells`,
      factory: () => EditorExtensionRegistry.createImmutableExtension(
        [stepHighlighter(docs), stepHover(docs)])
    });
    completions?.registerProvider(new StepCompletionProvider(docs));
    void docs.load().then(() => {
      document.body.dataset.stepLabExtension = String(docs.size);
      console.log(`${EXTENSION_NAME}: ${docs.size} STeP names loaded`);
    });
  }
};

export default plugin;
