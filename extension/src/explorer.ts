// A run's history explorer as a main-area document: the notebook widget's own ES module
// (served by the server extension), rendered with a model that lives in the Jupyter
// server instead of a kernel. State and messages travel as a comm would carry them.
import { MainAreaWidget, Notification, ToolbarButton } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

import { harvestUrl, namespaces, post, request, Stream, streamUrl } from './api';

type Listener = (...args: any[]) => void;

/** What an anywidget front end sees of its model: get/set/save_changes/on/off/send. */
class RemoteModel {
  private readonly listeners = new Map<string, Set<Listener>>();
  private pending: Record<string, unknown> = {};
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private state: Record<string, unknown>,
    private readonly key: string
  ) {}

  get(name: string): any {
    return this.state[name];
  }

  set(name: string, value: unknown): void {
    this.state[name] = value;
    this.pending[name] = value;
    this.emit(`change:${name}`);
  }

  save_changes(): void {
    const state = this.pending;
    this.pending = {};
    if (Object.keys(state).length) {
      this.deliver({ method: 'update', state });
    }
  }

  send(content: unknown): void {
    this.deliver({ method: 'custom', content });
  }

  on(event: string, listener: Listener): void {
    if (!this.listeners.has(event)) {
      this.listeners.set(event, new Set());
    }
    this.listeners.get(event)!.add(listener);
  }

  off(event?: string, listener?: Listener): void {
    if (!event) {
      this.listeners.clear();
    } else if (!listener) {
      this.listeners.delete(event);
    } else {
      this.listeners.get(event)?.delete(listener);
    }
  }

  /** State the server's object changed: set it, then tell each view once. */
  applyState(state: Record<string, unknown>): void {
    const names = Object.keys(state);
    for (const name of names) {
      this.state[name] = state[name];
    }
    for (const name of names) {
      this.emit(`change:${name}`);
    }
    if (names.length) {
      this.emit('change');
    }
  }

  applyMessage(content: unknown): void {
    this.emit('msg:custom', content, []);
  }

  private emit(event: string, ...args: unknown[]): void {
    for (const listener of [...(this.listeners.get(event) ?? [])]) {
      try {
        listener(...args);
      } catch (err) {
        console.error('Harvest explorer:', err);
      }
    }
  }

  /** Messages reach the server one at a time, in the order the view sent them. */
  private deliver(data: unknown): void {
    this.queue = this.queue.then(async () => {
      try {
        await post(`lab/explorers/${this.key}/messages`, data);
      } catch (err: any) {
        this.applyMessage({
          type: 'error',
          action: 'request',
          error: err.code ?? 'error',
          message: err.message ?? String(err)
        });
      }
    });
  }
}

let stylesLoaded = false;

function loadStyles(): void {
  if (stylesLoaded) {
    return;
  }
  stylesLoaded = true;
  const link = document.createElement('link');
  link.rel = 'stylesheet';
  link.href = harvestUrl('lab/widget.css');
  document.head.append(link);
}

export class ExplorerContent extends Widget {
  runId = '';
  private stream: Stream | null = null;
  private cleanup: (() => void) | null = null;
  private key = '';

  constructor(readonly ref: string) {
    super();
    this.addClass('hv-explorer-doc');
    this.node.textContent = 'opening the run…';
  }

  async open(): Promise<{ summary: any }> {
    loadStyles();
    const opened = await post<{ key: string; state: Record<string, any> }>(
      'lab/explorers',
      { run: this.ref, namespace: namespaces.current }
    );
    this.key = opened.key;
    const module = await import(/* webpackIgnore: true */ harvestUrl('lab/widget.js'));
    if (this.isDisposed) {
      // the tab closed while the run was loading: let the server forget it now
      void request(`lab/explorers/${opened.key}`, { method: 'DELETE' }).catch(() => undefined);
      return { summary: opened.state.summary ?? {} };
    }
    const model = new RemoteModel(opened.state, opened.key);
    this.node.textContent = '';
    const host = document.createElement('div');
    host.className = 'hv-explorer-host';
    this.node.append(host);
    const dispose = module.default.render({ model, el: host });
    this.cleanup = typeof dispose === 'function' ? dispose : null;
    this.follow(model, opened.key);
    const summary = opened.state.summary ?? {};
    this.runId = summary.run_id ?? this.ref;
    return { summary };
  }

  /** The server's changes, as they come; a listener that fell behind connects again
   * (the server sends the whole state first). After three failures in a row the server
   * has forgotten this explorer (idle too long, or restarted): say so. */
  private follow(model: RemoteModel, key: string): void {
    this.stream?.close();
    this.stream = new Stream(
      () => streamUrl(`lab/explorers/${key}/stream`),
      {
        state: frame => model.applyState(frame.state),
        msg: frame => model.applyMessage(frame.content),
        resync: () => this.follow(model, key)
      },
      () => undefined,
      3,
      () => {
        this.node.prepend(
          Object.assign(document.createElement('div'), {
            className: 'hv-explorer-gone',
            textContent: 'This explorer was closed on the server (unwatched for a while, or Jupyter restarted): open the run again.'
          })
        );
      }
    );
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this.stream?.close();
    this.cleanup?.();
    if (this.key) {
      void request(`lab/explorers/${this.key}`, { method: 'DELETE' }).catch(() => undefined);
    }
    super.dispose();
  }
}

export type InsertCell = (code: string) => boolean;

/** Open run ``ref`` (a run id or workflow id) in a new explorer document: ``attach``
 * puts it in the shell (so it has a size when it first draws), then it loads. */
export async function openExplorer(
  ref: string,
  insertCell: InsertCell,
  attach: (widget: MainAreaWidget<ExplorerContent>) => void
): Promise<MainAreaWidget<ExplorerContent>> {
  const content = new ExplorerContent(ref);
  const widget = new MainAreaWidget({ content });
  widget.id = `harvest-explorer-${ref}-${Date.now()}`;
  widget.title.label = `run ${ref.slice(0, 8)}`;
  widget.title.closable = true;
  widget.addClass('hv-explorer-panel');
  widget.toolbar.addItem(
    'insert-cell',
    new ToolbarButton({
      label: 'Insert %harvest explore cell',
      tooltip: 'Add a cell opening this explorer to the active notebook',
      onClick: () => {
        if (!insertCell(`%harvest explore ${content.runId || ref} --live`)) {
          Notification.warning('Open a notebook first: the cell goes into the active one.', {
            autoClose: 4000
          });
        }
      }
    })
  );
  attach(widget);
  try {
    const { summary } = await content.open();
    widget.title.label = `${summary.workflow_type ?? 'run'} · ${String(summary.workflow_id ?? ref).slice(0, 24)}`;
    widget.title.caption = `run ${content.runId}`;
  } catch (err: any) {
    content.node.textContent = `Could not open run ${ref}: ${err.message ?? err}`;
    content.node.classList.add('hv-error');
  }
  return widget;
}
