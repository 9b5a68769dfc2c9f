// Talking to the server extension under <base_url>/harvest/: JSON requests through
// JupyterLab's ServerConnection (Jupyter's login and XSRF token), event streams through
// EventSource (same origin: Jupyter's cookie signs them in).
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

const settings = ServerConnection.makeSettings();

export function harvestUrl(path: string, query: Record<string, string> = {}): string {
  const url = URLExt.join(settings.baseUrl, 'harvest', path);
  const search = new URLSearchParams(query).toString();
  return search ? `${url}?${search}` : url;
}

/** The URL of an event stream: EventSource sends no headers, so where Lab signs its
 * requests with the token instead of a cookie, the token goes in the query. */
export function streamUrl(path: string, query: Record<string, string> = {}): string {
  return harvestUrl(
    path,
    settings.appendToken && settings.token ? { ...query, token: settings.token } : query
  );
}

export class HarvestError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string
  ) {
    super(message);
  }
}

export async function request<T>(
  path: string,
  init: RequestInit = {},
  query: Record<string, string> = {}
): Promise<T> {
  const response = await ServerConnection.makeRequest(
    harvestUrl(path, query),
    init,
    settings
  );
  if (response.status === 204) {
    return undefined as T;
  }
  const text = await response.text();
  let body: any = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = { code: 'bad_response', message: text.slice(0, 200) };
  }
  if (!response.ok) {
    const detail = body?.detail;
    const message =
      body?.message ??
      (typeof detail === 'string' ? detail : JSON.stringify(detail ?? body));
    throw new HarvestError(response.status, body?.code ?? 'error', message);
  }
  return body as T;
}

export function post<T>(path: string, body: unknown): Promise<T> {
  return request<T>(path, {
    method: 'POST',
    body: JSON.stringify(body),
    headers: { 'Content-Type': 'application/json' }
  });
}

/** An EventSource that reopens after an error (the server restarting, the database
 * going away), waiting longer each time, up to 10 s. With ``giveUpAfter``, it stops
 * after that many failures in a row without opening once, and calls ``onGiveUp``. */
export class Stream {
  private source: EventSource | null = null;
  private retry = 500;
  private timer = 0;
  private closed = false;
  private failures = 0;

  constructor(
    private readonly url: () => string,
    private readonly handlers: Record<string, (data: any) => void>,
    private readonly onState: (open: boolean) => void = () => undefined,
    private readonly giveUpAfter = 0,
    private readonly onGiveUp: () => void = () => undefined
  ) {
    this.open();
  }

  private open(): void {
    if (this.closed) {
      return;
    }
    const source = new EventSource(this.url(), { withCredentials: true });
    this.source = source;
    source.onopen = () => {
      this.retry = 500;
      this.failures = 0;
      this.onState(true);
    };
    for (const [event, handle] of Object.entries(this.handlers)) {
      source.addEventListener(event, (e: MessageEvent) => {
        handle(e.data ? JSON.parse(e.data) : null);
      });
    }
    source.onerror = () => {
      source.close();
      this.onState(false);
      this.failures += 1;
      if (this.giveUpAfter && this.failures >= this.giveUpAfter) {
        this.closed = true;
        this.onGiveUp();
        return;
      }
      if (!this.closed) {
        this.timer = window.setTimeout(() => this.open(), this.retry);
        this.retry = Math.min(this.retry * 2, 10000);
      }
    };
  }

  close(): void {
    this.closed = true;
    window.clearTimeout(this.timer);
    this.source?.close();
  }
}

export interface RunRow {
  run_id: string;
  workflow_id: string;
  workflow_type: string;
  status: string;
  blocked: { kind?: string; reason?: string } | null;
  paused: boolean;
  created_at: string;
  closed_at: string | null;
}

export interface Counts {
  running: number;
  blocked: number;
  failed: number;
}

export function ago(iso: string | null): string {
  if (!iso) {
    return '';
  }
  const seconds = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  if (seconds < 60) {
    return `${Math.floor(seconds)}s ago`;
  }
  if (seconds < 3600) {
    return `${Math.floor(seconds / 60)}m ago`;
  }
  if (seconds < 86400) {
    return `${Math.floor(seconds / 3600)}h ago`;
  }
  return `${Math.floor(seconds / 86400)}d ago`;
}

export function until(iso: string | null): string {
  if (!iso) {
    return '—';
  }
  const seconds = (Date.parse(iso) - Date.now()) / 1000;
  if (seconds <= 0) {
    return 'due';
  }
  if (seconds < 60) {
    return `in ${Math.ceil(seconds)}s`;
  }
  if (seconds < 3600) {
    return `in ${Math.round(seconds / 60)}m`;
  }
  if (seconds < 86400) {
    return `in ${Math.round(seconds / 3600)}h`;
  }
  return `in ${Math.round(seconds / 86400)}d`;
}

const NAMESPACE_KEY = 'harvest-studio:namespace';

/** The namespace the sidebar, the status bar and new explorers show (kept per browser). */
export class NamespaceChoice {
  private listeners = new Set<(name: string) => void>();
  private name = window.localStorage.getItem(NAMESPACE_KEY) || 'default';

  get current(): string {
    return this.name;
  }

  set(name: string): void {
    if (name === this.name) {
      return;
    }
    this.name = name;
    window.localStorage.setItem(NAMESPACE_KEY, name);
    for (const listener of [...this.listeners]) {
      listener(name);
    }
  }

  onChange(listener: (name: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

export const namespaces = new NamespaceChoice();

/** ``query`` with the chosen namespace added. */
export function inNamespace(query: Record<string, string> = {}): Record<string, string> {
  return { namespace: namespaces.current, ...query };
}
