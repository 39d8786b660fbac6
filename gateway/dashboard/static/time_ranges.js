// The time ranges the panels ask for, in the browser's local time. Ranges are half-open
// [from, to), as in the API; each panel writes the range it used onto its element
// (data-from, data-to) so a test can ask the API for exactly the same figures.

const MINUTE = 60 * 1000;

/** Local midnight to the next local midnight (setDate keeps DST days right). */
export function today() {
  const from = new Date();
  from.setHours(0, 0, 0, 0);
  const to = new Date(from);
  to.setDate(to.getDate() + 1);
  return { from, to };
}

/** The last `minutes` whole minutes, up to the end of the current one. */
export function lastMinutes(minutes) {
  const to = new Date(Math.ceil(Date.now() / MINUTE) * MINUTE);
  return { from: new Date(to.getTime() - minutes * MINUTE), to };
}

export function asVariables(range) {
  return { from: range.from.toISOString(), to: range.to.toISOString() };
}

export function markRange(element, range) {
  element.dataset.from = range.from.toISOString();
  element.dataset.to = range.to.toISOString();
}
