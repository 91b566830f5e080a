/**
 * The STeP names a `%%step` cell uses, loaded from the `opdocs.json` that ships next to this
 * extension (written by `python -m step_lab.opdocs` from the package's own docstrings).
 */
import { PageConfig, URLExt } from '@jupyterlab/coreutils';

/** The labextension folder name (= the npm package name). */
export const EXTENSION_NAME = 'step-lab-jupyterlab';

/** One entry of opdocs.json: `{signature, doc, group}`. */
export interface IOpDoc {
  signature: string;
  doc: string;
  group: string;
}

/** `ops.X` operators, `fn.X` tile functions, or the cell names `knob` / `prog`. */
export type Namespace = 'ops' | 'fn' | 'cell';

export interface IEntry extends IOpDoc {
  name: string;
  namespace: Namespace;
}

function namespaceOf(doc: IOpDoc): Namespace {
  if (doc.signature.startsWith('ops.')) {
    return 'ops';
  }
  return doc.signature.startsWith('fn.') ? 'fn' : 'cell';
}

/** The URL of opdocs.json inside this extension's labextension folder. */
export function opdocsUrl(): string {
  return URLExt.join(PageConfig.getOption('fullLabextensionsUrl'), EXTENSION_NAME, 'opdocs.json');
}

/**
 * The name table. It starts empty and is filled once by `load()`; editors created before the
 * JSON arrives re-highlight when `ready` resolves.
 */
export class OpDocs {
  private readonly _entries = new Map<string, IEntry>();
  private _resolve: () => void = () => undefined;
  readonly ready: Promise<void> = new Promise(resolve => (this._resolve = resolve));

  get size(): number {
    return this._entries.size;
  }

  get(name: string): IEntry | undefined {
    return this._entries.get(name);
  }

  entries(namespace?: Namespace): IEntry[] {
    const all = Array.from(this._entries.values());
    return namespace ? all.filter(e => e.namespace === namespace) : all;
  }

  /** Fill the table from `raw` (the parsed opdocs.json) and resolve `ready`. */
  set(raw: Record<string, IOpDoc>): void {
    this._entries.clear();
    for (const [name, doc] of Object.entries(raw)) {
      this._entries.set(name, { ...doc, name, namespace: namespaceOf(doc) });
    }
    this._resolve();
  }

  /** Fetch opdocs.json; on failure warn once and keep highlighting the magic, knob and prog. */
  async load(url: string = opdocsUrl()): Promise<void> {
    try {
      const response = await fetch(url, { credentials: 'same-origin' });
      if (!response.ok) {
        throw new Error(`HTTP ${response.status}`);
      }
      this.set((await response.json()) as Record<string, IOpDoc>);
    } catch (error) {
      console.warn(`${EXTENSION_NAME}: could not load ${url} (${error}); operator names ` +
                   'will not be highlighted. Reinstall step-lab or run python -m step_lab.opdocs.');
      this.set({});
    }
  }
}
