// The status bar item: runs running, blocked and failed in the last day, live.
import { Widget } from '@lumino/widgets';

import { Counts, inNamespace, namespaces, Stream, streamUrl } from './api';

export class RunCountsItem extends Widget {
  private stream: Stream | null = null;
  private stopFollowing: (() => void) | null = null;
  private readonly parts: Record<keyof Counts, HTMLElement>;

  constructor(onClick: () => void) {
    super();
    this.addClass('hv-status');
    const part = (name: keyof Counts) => {
      const span = document.createElement('span');
      span.className = `hv-count hv-count-${name}`;
      span.dataset.count = name;
      span.textContent = '–';
      return span;
    };
    this.parts = { running: part('running'), blocked: part('blocked'), failed: part('failed') };
    const label = document.createElement('span');
    label.className = 'hv-status-label';
    label.textContent = 'Harvest';
    this.node.append(
      label,
      this.parts.running,
      ' running · ',
      this.parts.blocked,
      ' blocked · ',
      this.parts.failed,
      ' failed'
    );
    this.node.addEventListener('click', onClick);
  }

  protected onAfterAttach(): void {
    this.follow();
    this.stopFollowing = namespaces.onChange(() => {
      this.stream?.close();
      this.follow();
    });
  }

  private follow(): void {
    this.node.title = `Harvest runs in namespace ${namespaces.current}: running · blocked · failed in the last 24 h`;
    this.stream = new Stream(
      () => streamUrl('api/v1/stream/run-counts', inNamespace()),
      { counts: (counts: Counts) => this.showCounts(counts) },
      open => this.node.classList.toggle('hv-status-offline', !open)
    );
  }

  protected onBeforeDetach(): void {
    this.stopFollowing?.();
    this.stream?.close();
    this.stream = null;
  }

  private showCounts(counts: Counts): void {
    for (const name of Object.keys(this.parts) as (keyof Counts)[]) {
      this.parts[name].textContent = String(counts[name]);
      this.parts[name].classList.toggle('hv-nonzero', counts[name] > 0);
    }
  }
}
