// Formatting of times, durations and values for display.

/** A duration in milliseconds, short: `850ms`, `12.3s`, `4.5min`, `2.0h`, `3.1d`. */
export function formatDuration(ms: number | null | undefined): string {
  if (ms == null || !Number.isFinite(ms) || ms < 0) return '';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)}s`;
  if (s < 3600) return `${(s / 60).toFixed(1)}min`;
  if (s < 86400) return `${(s / 3600).toFixed(1)}h`;
  return `${(s / 86400).toFixed(1)}d`;
}

/** A run's duration: end − start, or up to `now` while it runs; empty when unknown. */
export function runDuration(start?: number | string, end?: number | string, status?: string, now = Date.now()): string {
  const s = Number(start);
  if (!start || !Number.isFinite(s)) return '';
  const e = end ? Number(end) : status === 'RUNNING' ? now : NaN;
  return formatDuration(e - s);
}

const pad = (n: number) => String(n).padStart(2, '0');

/** A timestamp in milliseconds as local `YYYY-MM-DD HH:MM:SS`. */
export function formatTime(ms: number | string | null | undefined): string {
  const n = Number(ms);
  if (ms == null || ms === '' || !Number.isFinite(n) || n <= 0) return '';
  const d = new Date(n);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** A metric value: integers as is, others to at most 6 significant digits. */
export function formatValue(v: number | string | null | undefined): string {
  if (v == null || v === '') return '';
  const n = typeof v === 'number' ? v : Number(v);
  if (!Number.isFinite(n)) return String(v);
  if (Number.isInteger(n) && Math.abs(n) < 1e15) return String(n);
  const a = Math.abs(n);
  if (a !== 0 && (a < 1e-4 || a >= 1e9)) return n.toExponential(4);
  return String(Number(n.toPrecision(6)));
}

/** A byte count: `512 B`, `1.5 KiB`, `2.0 MiB`. */
export function formatBytes(n: number | undefined): string {
  if (n == null || !Number.isFinite(n)) return '';
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}

/** The last path component of a source such as `/home/me/train.py` or a git URL. */
export function basename(path: string | undefined): string {
  if (!path) return '';
  const trimmed = path.replace(/[/\\]+$/, '');
  return trimmed.slice(Math.max(trimmed.lastIndexOf('/'), trimmed.lastIndexOf('\\')) + 1);
}
