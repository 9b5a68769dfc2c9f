// The Harvest sidebar: runs with live status (a stream of starts and ends, blocked and
// failed standing out), a filter in the filter language, workers and queues, schedules
// with their next fire time, and the open dead letters.
import { Widget } from '@lumino/widgets';

import { ago, inNamespace, namespaces, request, RunRow, Stream, streamUrl, until } from './api';

const PAGE = 50;
const SLOW_REFRESH_MS = 5000;

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  ...children: (Node | string | null)[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child !== null) {
      node.append(child);
    }
  }
  return node;
}

export function statusOf(run: RunRow): string {
  if (run.status === 'RUNNING' && run.blocked) {
    return 'BLOCKED';
  }
  if (run.status === 'RUNNING' && run.paused) {
    return 'PAUSED';
  }
  return run.status;
}

export class HarvestSidebar extends Widget {
  private readonly runsBox = el('ul', { class: 'hv-runs' });
  private readonly filterBox = el('input', {
    class: 'hv-filter',
    type: 'search',
    placeholder: 'filter: status = "FAILED" and workflow_type = "etl"',
    'aria-label': 'filter runs'
  });
  private readonly filterError = el('div', { class: 'hv-filter-error' });
  private readonly liveDot = el('span', { class: 'hv-live', title: 'connecting' });
  private readonly namespaceBox = el('select', {
    class: 'hv-namespace',
    'aria-label': 'namespace',
    title: 'namespace'
  });
  private stopFollowing: (() => void) | null = null;
  private readonly workersBox = el('div', { class: 'hv-section-body' });
  private readonly schedulesBox = el('div', { class: 'hv-section-body' });
  private readonly dlqBox = el('div', { class: 'hv-section-body' });
  private runs = new Map<string, RunRow>();
  private stream: Stream | null = null;
  private reloadTimer = 0;
  private slowTimer = 0;
  private generation = 0;

  constructor(private readonly openRun: (runId: string) => void) {
    super();
    this.id = 'harvest-sidebar';
    this.addClass('hv-sidebar');
    this.title.caption = 'Harvest: runs, workers, schedules';
    const head = el(
      'div',
      { class: 'hv-head' },
      el('strong', {}, 'Harvest'),
      this.liveDot,
      this.namespaceBox
    );
    this.namespaceBox.addEventListener('change', () => namespaces.set(this.namespaceBox.value));
    this.filterBox.addEventListener('keydown', (e: KeyboardEvent) => {
      if (e.key === 'Enter') {
        void this.reload();
      }
    });
    this.filterBox.addEventListener('search', () => void this.reload());
    this.node.append(
      head,
      this.filterBox,
      this.filterError,
      el('h3', {}, 'Runs'),
      this.runsBox,
      el('h3', {}, 'Workers and queues'),
      this.workersBox,
      el('h3', {}, 'Schedules'),
      this.schedulesBox,
      el('h3', {}, 'Dead letters'),
      this.dlqBox
    );
  }

  protected onAfterAttach(): void {
    this.follow();
    void this.drawNamespaces();
    this.stopFollowing = namespaces.onChange(() => {
      this.stream?.close();
      this.runs = new Map();
      this.drawRuns();
      this.follow();
    });
    this.slowTimer = window.setInterval(() => {
      // only while someone can see it (and so Jupyter's idle culling still works)
      if (this.isVisible && document.visibilityState === 'visible') {
        void this.refreshSlow();
      }
    }, SLOW_REFRESH_MS);
  }

  /** Read the chosen namespace's runs and follow its starts and ends. */
  private follow(): void {
    void this.reload();
    void this.refreshSlow();
    this.stream = new Stream(
      () => streamUrl('api/v1/stream/runs', inNamespace()),
      { run: (row: Omit<RunRow, 'blocked' | 'paused'>) => this.changed(row) },
      open => {
        this.liveDot.classList.toggle('hv-live-on', open);
        this.liveDot.title = open ? 'live' : 'reconnecting';
        if (open) {
          this.scheduleReload(); // catch up on what happened while it was away
        }
      }
    );
  }

  private async drawNamespaces(): Promise<void> {
    try {
      const { namespaces: all } = await request<{ namespaces: { name: string }[] }>(
        'api/v1/namespaces'
      );
      const names = all.map(n => n.name);
      if (!names.includes(namespaces.current)) {
        names.push(namespaces.current);
      }
      const shown = [...this.namespaceBox.options].map(o => o.value);
      if (
        document.activeElement === this.namespaceBox ||
        (shown.join('\n') === names.join('\n') && this.namespaceBox.value === namespaces.current)
      ) {
        return; // the user has the list open, or nothing changed
      }
      this.namespaceBox.replaceChildren(
        ...names.map(name => {
          const option = el('option', { value: name }, name);
          option.selected = name === namespaces.current;
          return option;
        })
      );
    } catch {
      this.namespaceBox.replaceChildren(el('option', {}, namespaces.current));
    }
  }

  protected onBeforeDetach(): void {
    this.stopFollowing?.();
    this.stream?.close();
    this.stream = null;
    window.clearInterval(this.slowTimer);
    window.clearTimeout(this.reloadTimer);
  }

  /** A run started or ended: show it at once, then read the page again (for the
   * blocked flag and the filter, which only the server knows). */
  private changed(row: Omit<RunRow, 'blocked' | 'paused'>): void {
    const known = this.runs.get(row.run_id);
    if (known) {
      this.runs.set(row.run_id, { ...known, ...row, blocked: row.status === 'RUNNING' ? known.blocked : null });
    } else if (!this.filterBox.value.trim()) {
      this.runs = new Map([[row.run_id, { blocked: null, paused: false, ...row }], ...this.runs]);
    }
    this.drawRuns();
    this.scheduleReload();
  }

  private scheduleReload(): void {
    window.clearTimeout(this.reloadTimer);
    this.reloadTimer = window.setTimeout(() => void this.reload(), 400);
  }

  async reload(): Promise<void> {
    const generation = ++this.generation;
    const query = this.filterBox.value.trim();
    try {
      const page = await request<{ runs: RunRow[] }>(
        'api/v1/runs',
        {},
        inNamespace(query ? { query, limit: String(PAGE) } : { limit: String(PAGE) })
      );
      if (generation !== this.generation) {
        return; // a newer reload is under way
      }
      this.filterError.textContent = '';
      this.runs = new Map(page.runs.map(r => [r.run_id, r]));
      this.drawRuns();
    } catch (err: any) {
      if (generation === this.generation) {
        this.filterError.textContent = err.message ?? String(err);
      }
    }
  }

  private drawRuns(): void {
    const items = [...this.runs.values()].slice(0, PAGE).map(run => {
      const status = statusOf(run);
      const item = el(
        'li',
        {
          class: `hv-run hv-status-${status.toLowerCase()}`,
          'data-run-id': run.run_id,
          'data-status': status,
          title: run.blocked?.reason
            ? `${status}: ${run.blocked.reason}`
            : `${run.workflow_id} · ${run.run_id}`
        },
        el('span', { class: 'hv-badge' }, status),
        el('span', { class: 'hv-type' }, run.workflow_type),
        el('span', { class: 'hv-wid' }, run.workflow_id),
        el('span', { class: 'hv-when' }, ago(run.closed_at ?? run.created_at))
      );
      item.addEventListener('click', () => this.openRun(run.run_id));
      return item;
    });
    this.runsBox.replaceChildren(
      ...(items.length ? items : [el('li', { class: 'hv-empty' }, 'no runs')])
    );
  }

  async refreshSlow(): Promise<void> {
    await Promise.all([
      this.drawWorkers(),
      this.drawSchedules(),
      this.drawDeadLetters(),
      this.drawNamespaces()
    ]);
  }

  private async drawWorkers(): Promise<void> {
    try {
      const [{ workers }, { queues }] = await Promise.all([
        request<{ workers: any[] }>('api/v1/workers', {}, inNamespace()),
        request<{ queues: any[] }>('api/v1/queues', {}, inNamespace())
      ]);
      const rows = [
        ...workers.map(w =>
          el(
            'div',
            { class: `hv-worker hv-worker-${w.state}` },
            `${w.state} · ${w.hostname}:${w.pid} · ${w.running_tasks} running · ${w.queues.join(', ')}`
          )
        ),
        ...queues.map(q =>
          el(
            'div',
            { class: `hv-queue${q.ready && !q.workers ? ' hv-unserved' : ''}` },
            `queue ${q.name}: ${q.ready} ready, ${q.running} running, ` +
              `${q.workers} worker${q.workers === 1 ? '' : 's'}`
          )
        )
      ];
      this.workersBox.replaceChildren(
        ...(rows.length ? rows : [el('div', { class: 'hv-empty' }, 'no workers, no queues')])
      );
    } catch (err: any) {
      this.workersBox.textContent = err.message ?? String(err);
    }
  }

  private async drawSchedules(): Promise<void> {
    try {
      const { schedules } = await request<{ schedules: any[] }>('api/v1/schedules', {}, inNamespace());
      const rows = schedules.map(s =>
        el(
          'div',
          { class: 'hv-schedule', title: s.next_fire_at ?? '' },
          `${s.name} → ${s.workflow_type} · `,
          el('span', { class: 'hv-next' }, s.paused ? 'paused' : `next ${until(s.next_fire_at)}`)
        )
      );
      this.schedulesBox.replaceChildren(
        ...(rows.length ? rows : [el('div', { class: 'hv-empty' }, 'no schedules')])
      );
    } catch (err: any) {
      this.schedulesBox.textContent = err.message ?? String(err);
    }
  }

  private async drawDeadLetters(): Promise<void> {
    try {
      const { groups } = await request<{ groups: any[] }>('api/v1/dlq/groups', {}, inNamespace());
      const total = groups.reduce((sum, g) => sum + (g.count ?? 0), 0);
      this.dlqBox.replaceChildren(
        el(
          'div',
          { class: total ? 'hv-dlq hv-dlq-open' : 'hv-dlq' },
          total
            ? `${total} open in ${groups.length} group${groups.length === 1 ? '' : 's'} (%harvest dlq)`
            : 'none open'
        )
      );
    } catch (err: any) {
      this.dlqBox.textContent = err.message ?? String(err);
    }
  }
}
