// What every analytics panel shares: its own error line (one failing query leaves the
// other panels working), table rows with their figures as data attributes, and a
// refresh that never overlaps itself.

export class Panel {
  constructor(id) {
    this.element = document.getElementById(id);
    this.error = this.element.querySelector(".panel-error");
    this.running = null;
  }

  /** Shows a failure on the panel (a live feed's, say), leaving the rest of the page. */
  fail(message) {
    this.error.textContent = String(message);
    this.error.hidden = false;
  }

  /** Runs `load` unless a run is in flight; its failure is shown on the panel. */
  refresh(load) {
    if (this.running) return this.running;
    this.running = (async () => {
      try {
        await load();
        this.error.hidden = true;
        this.element.dataset.loaded = String(Number(this.element.dataset.loaded || 0) + 1);
      } catch (error) {
        this.fail(error.message || error);
      } finally {
        this.running = null;
      }
    })();
    return this.running;
  }
}

/**
 * Replaces a table body's rows. Each row is {cells: [text...], data: {key: value}}; the
 * data become data-* attributes of the row (the figures, unformatted, for tests).
 */
export function fillTable(table, rows, emptyText) {
  const body = table.tBodies[0];
  body.replaceChildren();
  for (const { cells, data } of rows) {
    const tr = body.insertRow();
    for (const cell of cells) tr.insertCell().textContent = cell;
    for (const [key, value] of Object.entries(data || {})) tr.dataset[key] = value == null ? "" : String(value);
  }
  if (!rows.length) {
    const cell = body.insertRow().insertCell();
    cell.colSpan = table.tHead.rows[0].cells.length;
    cell.className = "empty";
    cell.textContent = emptyText;
  }
}

/** Calls `fn` at most once per `ms`, after the last of a burst of calls. */
export function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}
