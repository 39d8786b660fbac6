// The zone editor of one camera tile: an operator draws a polygon zone (click the
// vertices, close it on the first vertex or with "Close shape") or a directed counting
// line (two clicks, then pick the "in" side) on the live view, names it, and saves it
// through the config mutations; existing shapes are edited or deleted the same way.
//
// Every save is one new configuration version, validated by the API; its field errors
// (BAD_USER_INPUT with extensions.field) are shown next to the field they name.

import { ApiError, graphql } from "./api.js";
import { CONFIG_FIELDS, linesOf, setConfig, zonesOf } from "./analytics_config.js";

export const ZONE_KINDS = [
  "area", "queue", "checkout", "entrance", "exit", "staff_only", "display", "fitting_room",
  "service_counter",
];

const CLOSE_RADIUS_PX = 12; // a click this close to the first vertex closes the polygon

// Form fields by the normalized spelling of the API's field paths (snake or camel case).
const FIELD_SLOTS = {
  id: "id", name: "name", kind: "kind", capacity: "capacity",
  dwellthresholds: "dwell_threshold_s", waitthresholds: "wait_threshold_s",
  polygon: "shape", a: "shape", b: "shape", inside: "in_side",
  countsstoreentry: "counts_store_entry",
};

/** The form slot an API error belongs to: the last segment of its field path we show. */
export function slotOf(field) {
  const segments = (Array.isArray(field) ? field.map(String) : String(field || "").split(/[.\[\]/]+/))
    .map((s) => s.toLowerCase().replace(/[^a-z0-9]/g, ""))
    .filter((s) => s && !/^\d+$/.test(s));
  for (let i = segments.length - 1; i >= 0; i--) {
    if (FIELD_SLOTS[segments[i]]) return FIELD_SLOTS[segments[i]];
  }
  return "form";
}

export function slugOf(name) {
  return name.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 63);
}

const ZONE_FORM = `
  <label>name <input data-field="name" required maxlength="128"></label>
  <span class="field-error" data-for="name"></span>
  <label>id <input data-field="id" maxlength="63" pattern="[a-z0-9][a-z0-9_\\-]*"></label>
  <span class="field-error" data-for="id"></span>
  <label>kind <select data-field="kind">${ZONE_KINDS.map((k) => `<option value="${k}">${k}</option>`).join("")}</select></label>
  <span class="field-error" data-for="kind"></span>
  <label>capacity <input data-field="capacity" type="number" min="1" step="1" placeholder="unlimited"></label>
  <span class="field-error" data-for="capacity"></span>
  <label>dwell alert after (s) <input data-field="dwell_threshold_s" type="number" min="0" step="any" placeholder="none"></label>
  <span class="field-error" data-for="dwell_threshold_s"></span>
  <label class="queue-only">wait alert after (s) <input data-field="wait_threshold_s" type="number" min="0" step="any" placeholder="none"></label>
  <span class="field-error" data-for="wait_threshold_s"></span>
  <span class="field-error" data-for="shape"></span>`;

const LINE_FORM = `
  <label>name <input data-field="name" required maxlength="128"></label>
  <span class="field-error" data-for="name"></span>
  <label>id <input data-field="id" maxlength="63" pattern="[a-z0-9][a-z0-9_\\-]*"></label>
  <span class="field-error" data-for="id"></span>
  <label>"in" side <span class="inline"><select data-field="in_side"><option value="right">right of a→b</option><option value="left">left of a→b</option></select>
    <button type="button" data-action="flip">flip</button></span></label>
  <span class="field-error" data-for="in_side"></span>
  <label>counts store entry and exit <input data-field="counts_store_entry" type="checkbox"></label>
  <span class="field-error" data-for="counts_store_entry"></span>
  <span class="field-error" data-for="shape"></span>`;

export class ZoneEditor {
  constructor(tile, cameraId, overlay) {
    this.tile = tile;
    this.cameraId = cameraId;
    this.overlay = overlay;
    this.root = tile.querySelector(".editor");
    this.mode = "idle"; // idle | drawing | form
    this.editing = null; // {kind: "zone"|"line", original: the shape or null}
    this.root.innerHTML = `
      <div class="toolbar">
        <button type="button" data-action="new-zone">Draw zone</button>
        <button type="button" data-action="new-line">Draw line</button>
        <button type="button" data-action="undo" hidden>Undo vertex</button>
        <button type="button" data-action="close-shape" hidden>Close shape</button>
        <button type="button" data-action="done">Done</button>
      </div>
      <p class="hint"></p>
      <form class="shape-form" novalidate hidden></form>
      <ul class="shapes"></ul>`;
    this.form = this.root.querySelector("form"); // novalidate: the API is the one validator, its errors shown per field
    this.hint = this.root.querySelector(".hint");
    this.root.addEventListener("click", (event) => this.onButton(event));
    this.form.addEventListener("submit", (event) => { event.preventDefault(); this.save(); });
    this.form.addEventListener("change", () => this.onFormChange());
    this.form.addEventListener("input", () => this.onFormChange());
    overlay.svg.addEventListener("click", (event) => this.onCanvasClick(event));
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && this.mode === "drawing") this.cancel();
    });
  }

  open() {
    this.tile.classList.add("editing");
    this.root.hidden = false;
    this.setHint("Draw a zone (click its corners on the floor) or a counting line (two clicks).");
    this.refresh();
  }

  closeEditor() {
    this.cancel();
    this.tile.classList.remove("editing");
    this.root.hidden = true;
  }

  /** The list of this camera's shapes, redrawn when the configuration changes. */
  refresh() {
    const list = this.root.querySelector(".shapes");
    list.replaceChildren();
    const shapes = [
      ...zonesOf(this.cameraId).map((zone) => ({ kind: "zone", shape: zone, what: `${zone.kind} zone` })),
      ...linesOf(this.cameraId).map((line) => ({ kind: "line", shape: line, what: "line" })),
    ];
    for (const { kind, shape, what } of shapes) {
      const item = document.createElement("li");
      item.dataset.shapeId = shape.id;
      item.innerHTML = `<span></span> <button type="button" data-action="edit">Edit</button>
        <button type="button" data-action="delete">Delete</button>`;
      item.querySelector("span").textContent = `${shape.name} (${what}, ${shape.id})`;
      item.dataset.kind = kind;
      list.append(item);
    }
    if (!shapes.length) list.innerHTML = `<li class="empty">no zones or lines on this camera yet</li>`;
  }

  setHint(text) {
    this.hint.textContent = text;
  }

  onButton(event) {
    const action = event.target.dataset && event.target.dataset.action;
    if (!action) return;
    const item = event.target.closest("li[data-shape-id]");
    if (action === "new-zone") this.startDrawing("zone", null);
    else if (action === "new-line") this.startDrawing("line", null);
    else if (action === "undo") this.undoVertex();
    else if (action === "close-shape") this.closePolygon();
    else if (action === "done") this.closeEditor();
    else if (action === "cancel") this.cancel();
    else if (action === "redraw") this.startDrawing(this.editing.kind, this.editing.original);
    else if (action === "flip") this.flipSide();
    else if (action === "remove") this.remove(this.editing.kind, this.editing.original.id);
    else if (action === "edit" && item) this.edit(item.dataset.kind, item.dataset.shapeId);
    else if (action === "delete" && item) this.remove(item.dataset.kind, item.dataset.shapeId);
  }

  startDrawing(kind, original) {
    const keep = this.mode === "form" ? this.readForm() : null; // survives a redraw
    this.mode = "drawing";
    this.editing = { kind, original, keep };
    this.form.hidden = true;
    this.overlay.draft = { kind, points: [], closed: false, inSide: original ? original.inSide : "right" };
    this.overlay.svg.classList.add("drawing");
    this.root.querySelector("[data-action=undo]").hidden = kind !== "zone";
    this.root.querySelector("[data-action=close-shape]").hidden = kind !== "zone";
    this.setHint(kind === "zone"
      ? "Click the zone's corners on the video; click the first corner (or Close shape) to finish. Esc cancels."
      : "Click the line's two ends on the video. Esc cancels.");
    this.overlay.render();
  }

  onCanvasClick(event) {
    if (this.mode !== "drawing") return;
    const draft = this.overlay.draft;
    const point = this.overlay.pointOf(event);
    if (draft.kind === "zone") {
      if (draft.points.length >= 3 && this.overlay.distance(point, draft.points[0]) <= CLOSE_RADIUS_PX) {
        this.closePolygon();
        return;
      }
      draft.points.push(point);
      this.setHint(`${draft.points.length} corner(s); click the first corner (or Close shape) to finish.`);
    } else {
      draft.points.push(point);
      if (draft.points.length === 2) this.showForm();
    }
    this.overlay.render();
  }

  undoVertex() {
    if (this.mode === "drawing") this.overlay.draft.points.pop();
    this.overlay.render();
  }

  closePolygon() {
    if (this.mode !== "drawing" || this.overlay.draft.points.length < 3) {
      this.setHint("A zone needs at least 3 corners.");
      return;
    }
    this.overlay.draft.closed = true;
    this.showForm();
    this.overlay.render();
  }

  edit(kind, id) {
    const shape = (kind === "zone" ? zonesOf(this.cameraId) : linesOf(this.cameraId)).find((s) => s.id === id);
    if (!shape) return;
    this.editing = { kind, original: shape, keep: null };
    this.overlay.draft = kind === "zone"
      ? { kind, points: shape.polygon.map((p) => [...p]), closed: true }
      : { kind, points: shape.points.map((p) => [...p]), inSide: shape.inSide };
    this.overlay.selected = id;
    this.showForm();
    this.overlay.render();
  }

  showForm() {
    const { kind, original, keep } = this.editing;
    this.mode = "form";
    this.overlay.svg.classList.remove("drawing");
    for (const action of ["undo", "close-shape"]) this.root.querySelector(`[data-action=${action}]`).hidden = true;
    this.form.dataset.kind = kind;
    this.form.innerHTML = `${kind === "zone" ? ZONE_FORM : LINE_FORM}
      <span class="field-error" data-for="form"></span>
      <div class="buttons"><button type="submit" data-action="save">Save</button>
        <button type="button" data-action="redraw">Redraw</button>
        ${original ? `<button type="button" data-action="remove">Delete</button>` : ""}
        <button type="button" data-action="cancel">Cancel</button></div>`;
    const values = keep || (original ? this.valuesOf(kind, original) : {});
    for (const input of this.form.querySelectorAll("[data-field]")) {
      const value = values[input.dataset.field];
      if (input.type === "checkbox") input.checked = Boolean(value);
      else if (value != null) input.value = value;
    }
    const id = this.form.querySelector("[data-field=id]");
    id.readOnly = Boolean(original); // an id is the shape's identity: renaming is delete + add
    this.form.hidden = false;
    this.onFormChange();
    this.setHint(original ? `Editing ${original.id}.` : "Name it and save.");
    this.form.querySelector("[data-field=name]").focus();
  }

  valuesOf(kind, shape) {
    if (kind === "zone") {
      return {
        id: shape.id, name: shape.name, kind: shape.kind, capacity: shape.capacity,
        dwell_threshold_s: shape.dwellThresholdS, wait_threshold_s: shape.waitThresholdS,
      };
    }
    return { id: shape.id, name: shape.name, in_side: shape.inSide, counts_store_entry: shape.countsStoreEntry };
  }

  onFormChange() {
    if (this.mode !== "form") return;
    const values = this.readForm();
    const id = this.form.querySelector("[data-field=id]");
    if (!this.editing.original && !id.dataset.touched && document.activeElement !== id) {
      id.value = slugOf(values.name || "");
    }
    if (document.activeElement === id) id.dataset.touched = "1";
    if (this.editing.kind === "zone") {
      this.form.querySelector(".queue-only").hidden = values.kind !== "queue";
    } else {
      this.overlay.draft.inSide = values.in_side;
      this.overlay.render();
    }
  }

  flipSide() {
    const select = this.form.querySelector("[data-field=in_side]");
    select.value = select.value === "right" ? "left" : "right";
    this.onFormChange();
  }

  readForm() {
    const values = {};
    for (const input of this.form.querySelectorAll("[data-field]")) {
      if (input.type === "checkbox") values[input.dataset.field] = input.checked;
      else if (input.type === "number") values[input.dataset.field] = input.value === "" ? null : Number(input.value);
      else values[input.dataset.field] = input.value.trim();
    }
    return values;
  }

  /** The shape as the config mutations take it (the configuration's own field names). */
  payload() {
    const values = this.readForm();
    const points = this.overlay.draft.points;
    if (this.editing.kind === "zone") {
      const zone = {
        id: values.id, camera_id: this.cameraId, name: values.name, kind: values.kind,
        polygon: points, capacity: values.capacity, dwell_threshold_s: values.dwell_threshold_s,
      };
      if (values.kind === "queue") zone.wait_threshold_s = values.wait_threshold_s;
      return zone;
    }
    return {
      id: values.id, camera_id: this.cameraId, name: values.name, a: points[0], b: points[1],
      in_side: values.in_side, counts_store_entry: values.counts_store_entry,
    };
  }

  clearErrors() {
    for (const slot of this.form.querySelectorAll(".field-error")) slot.textContent = "";
    this.form.querySelectorAll(".invalid").forEach((input) => input.classList.remove("invalid"));
  }

  showErrors(error) {
    const problems = error instanceof ApiError ? error.problems : [{ message: String(error) }];
    for (const { field, message } of problems) {
      const slot = slotOf(field);
      const target = this.form.querySelector(`.field-error[data-for="${slot}"]`) ||
        this.form.querySelector(`.field-error[data-for="form"]`);
      target.textContent = target.textContent ? `${target.textContent}; ${message}` : message;
      this.form.querySelector(`[data-field="${slot}"]`)?.classList.add("invalid");
    }
  }

  async save() {
    this.clearErrors();
    const kind = this.editing.kind;
    const mutation = kind === "zone"
      ? `mutation ($zone: JSON!) { putZone(zone: $zone) { ${CONFIG_FIELDS} } }`
      : `mutation ($line: JSON!) { putLine(line: $line) { ${CONFIG_FIELDS} } }`;
    const shape = this.payload();
    try {
      const data = await graphql(mutation, { [kind]: shape });
      const next = data[kind === "zone" ? "putZone" : "putLine"];
      this.finish(`Saved ${kind} ${shape.id} (configuration version ${next.version}).`);
      setConfig(next);
    } catch (error) {
      this.showErrors(error);
    }
  }

  async remove(kind, id) {
    const mutation = kind === "zone"
      ? `mutation ($id: String!) { deleteZone(zoneId: $id) { ${CONFIG_FIELDS} } }`
      : `mutation ($id: String!) { deleteLine(lineId: $id) { ${CONFIG_FIELDS} } }`;
    try {
      const data = await graphql(mutation, { id });
      const next = data[kind === "zone" ? "deleteZone" : "deleteLine"];
      this.finish(`Deleted ${kind} ${id} (configuration version ${next.version}).`);
      setConfig(next);
    } catch (error) {
      if (this.mode === "form") this.showErrors(error);
      else this.setHint(`Could not delete ${id}: ${error.message}`);
    }
  }

  finish(message) {
    this.cancel();
    this.setHint(message);
  }

  cancel() {
    this.mode = "idle";
    this.editing = null;
    this.form.hidden = true;
    this.form.replaceChildren();
    this.overlay.draft = null;
    this.overlay.selected = null;
    this.overlay.svg.classList.remove("drawing");
    for (const action of ["undo", "close-shape"]) this.root.querySelector(`[data-action=${action}]`).hidden = true;
    this.overlay.render();
  }
}
