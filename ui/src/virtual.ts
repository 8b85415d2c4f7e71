// The window math of the runs table's virtual scrolling: rows have one fixed height,
// and only those in view (plus some overscan) are rendered between two spacers.

export interface Window {
  start: number;
  /** One past the last rendered row. */
  end: number;
  padTop: number;
  padBottom: number;
}

export function visibleWindow(
  scrollTop: number,
  viewport: number,
  rowHeight: number,
  count: number,
  overscan = 8,
): Window {
  if (count <= 0 || rowHeight <= 0) return { start: 0, end: 0, padTop: 0, padBottom: 0 };
  const first = Math.floor(Math.max(0, scrollTop) / rowHeight);
  const visible = Math.ceil(Math.max(0, viewport) / rowHeight) + 1;
  const start = Math.min(count, Math.max(0, first - overscan));
  const end = Math.min(count, first + visible + overscan);
  return { start, end, padTop: start * rowHeight, padBottom: (count - end) * rowHeight };
}

/** Whether the view is within `rows` rows of the end, time to load the next page. */
export function nearEnd(scrollTop: number, viewport: number, rowHeight: number, count: number, rows = 20): boolean {
  return scrollTop + viewport >= (count - rows) * rowHeight;
}

/** The scrollTop that brings row `index` into view, or `null` when it already is. */
export function scrollToRow(index: number, scrollTop: number, viewport: number, rowHeight: number): number | null {
  const top = index * rowHeight;
  if (top < scrollTop) return top;
  if (top + rowHeight > scrollTop + viewport) return top + rowHeight - viewport;
  return null;
}
