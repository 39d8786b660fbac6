// Camera management (operators): add, edit and remove a camera (its source, role, tier
// and fps; zones are drawn in each tile's zone editor), and start or stop its analysis.
//
// Every change goes through the camera mutations, which the store nodes follow through
// the camera registry within seconds; the list shows whether a node runs each camera.
// An edit sends only the fields the operator changed: the config the API returns has the
// source's credentials masked, so sending it back whole would store the mask. The API's
// validation errors are shown next to the field they name.

import { ApiError, graphql } from "./api.js";

const ROLES = ["entrance", "exit", "billing", "face_capture", "tracking", "queue", "general"];
const TIERS = ["critical", "high", "normal", "low"];
const CAMERA_FIELDS = "id name role config registered status running registryPending";

// Form fields by the API's field path (CameraConfig's names).
const FIELDS = ["id", "name", "source", "role", "tier", "target_fps"];

function formHtml() {
  const options = (values, blank) =>
    (blank ? `<option value="">${blank}</option>` : "") + values.map((v) => `<option value="${v}">${v}</option>`).join("");
  return `
    <label>id <input name="id" data-field="id" required placeholder="entrance-2"></label>
    <p class="field-error" data-for="id"></p>
    <label>name <input name="name" data-field="name" placeholder="Entrance, second door"></label>
    <p class="field-error" data-for="name"></p>
    <label>source <input name="source" data-field="source" placeholder="rtsp://camera.local/stream"></label>
    <p class="field-error" data-for="source"></p>
    <label>role <select name="role" data-field="role">${options(ROLES)}</select></label>
    <p class="field-error" data-for="role"></p>
    <label>tier <select name="tier" data-field="tier">${options(TIERS, "(the role's default)")}</select></label>
    <p class="field-error" data-for="tier"></p>
    <label>fps <input name="target_fps" data-field="target_fps" type="number" step="any" placeholder="10"></label>
    <p class="field-error" data-for="target_fps"></p>
    <p class="field-error" data-for="form"></p>
    <div class="buttons"><button type="submit" data-action="save">Save</button>
      <button type="button" data-action="cancel">Cancel</button></div>`;
}

/** The slot of an API field path (`source`, `config.target_fps`, ...): a form field or "form". */
function slotOf(field) {
  const last = String(field || "").split(".").pop();
  return FIELDS.includes(last) ? last : "form";
}

/** What the analysis column says: whether a node runs the camera, not only its setting. */
function analysisState(camera, enabled) {
  if (!camera.registered) return "not registered";
  if (!enabled) return "stopped";
  return camera.running ? "running" : "not running on any node";
}

export class CameraAdmin {
  /** `onChanged` reloads the page's cameras after a change. */
  constructor(onChanged) {
    this.onChanged = onChanged;
    this.root = document.getElementById("camera-admin");
    this.table = document.getElementById("camera-list");
    this.form = this.root.querySelector("form");
    this.status = this.root.querySelector(".admin-status");
    this.form.innerHTML = formHtml();
    this.editing = null; // the camera being edited, or null when adding
    this.form.onsubmit = (event) => { event.preventDefault(); this.save(); };
    this.form.querySelector("[data-action=cancel]").onclick = () => this.close();
    this.root.querySelector("[data-action=add-camera]").onclick = () => this.open(null);
  }

  /** The list of cameras, with their actions. */
  render(cameras) {
    const body = this.table.tBodies[0];
    body.replaceChildren();
    for (const camera of cameras) {
      const config = camera.config || {};
      const enabled = config.enabled !== false;
      const tr = body.insertRow();
      Object.assign(tr.dataset, {
        cameraId: camera.id, registered: String(camera.registered), enabled: String(enabled),
        running: camera.running == null ? "" : String(camera.running),
      });
      const cells = [camera.id, config.source || "", config.role || "", config.tier || "",
        config.target_fps == null ? "" : String(config.target_fps),
        analysisState(camera, enabled)];
      for (const text of cells) tr.insertCell().textContent = text;
      const actions = tr.insertCell();
      const button = (action, label, onclick) => {
        const b = document.createElement("button");
        Object.assign(b, { type: "button", textContent: label, onclick });
        b.dataset.action = action;
        actions.append(b);
      };
      if (camera.registered) {
        button("edit", "Edit", () => this.open(camera));
        button(enabled ? "stop" : "start", enabled ? "Stop" : "Start", () => this.setEnabled(camera, !enabled));
        button("remove", "Remove", () => this.remove(camera));
      } else {
        // Seen on the bus but never registered: register it to manage it here.
        button("register", "Register", () => this.open(null, camera.id));
      }
    }
    if (!cameras.length) {
      const cell = body.insertRow().insertCell();
      cell.colSpan = this.table.tHead.rows[0].cells.length;
      cell.className = "empty";
      cell.textContent = "no cameras: add one";
    }
  }

  open(camera, newId = "") {
    this.editing = camera;
    this.clearErrors();
    const config = camera ? camera.config || {} : {};
    const field = (name) => this.form.elements[name];
    field("id").value = camera ? camera.id : newId;
    field("id").disabled = Boolean(camera); // an id never changes
    field("name").value = config.name || "";
    // The stored source is masked: left empty, an edit keeps it.
    field("source").value = "";
    field("source").placeholder = camera ? `unchanged: ${config.source || ""}` : "rtsp://camera.local/stream";
    field("role").value = config.role || "general";
    field("tier").value = config.tier || "";
    field("target_fps").value = config.target_fps == null ? "" : String(config.target_fps);
    this.form.dataset.mode = camera ? "edit" : "add";
    this.form.hidden = false;
  }

  close() {
    this.form.hidden = true;
    this.editing = null;
  }

  /** The config (adding) or the patch (editing): the fields given, or changed. */
  values() {
    const read = (name) => this.form.elements[name].value.trim();
    const values = { name: read("name"), source: read("source"), role: read("role"), tier: read("tier") };
    const fps = read("target_fps");
    if (fps !== "") values.target_fps = Number(fps);
    if (!this.editing) {
      const config = { id: read("id"), ...values };
      if (!config.tier) delete config.tier;
      if (!config.name) config.name = config.id;
      return config;
    }
    const current = this.editing.config || {};
    const patch = {};
    for (const [key, value] of Object.entries(values)) {
      if (value === "" || value === current[key]) continue; // empty: unchanged
      patch[key] = value;
    }
    return patch;
  }

  async save() {
    this.clearErrors();
    const values = this.values();
    try {
      if (this.editing) {
        if (!Object.keys(values).length) return this.close();
        await graphql(`mutation ($id: String!, $patch: JSON!) { updateCamera(id: $id, patch: $patch) { ${CAMERA_FIELDS} } }`,
          { id: this.editing.id, patch: values });
        this.say(`Saved camera ${this.editing.id}.`);
      } else {
        const { registerCamera } = await graphql(`mutation ($c: JSON!) { registerCamera(config: $c) { ${CAMERA_FIELDS} } }`, { c: values });
        this.say(`Added camera ${values.id}.` + (registerCamera.registryPending
          ? " The store nodes get it once NATS answers." : " Its store node starts it within seconds."));
      }
      this.close();
      await this.onChanged();
    } catch (error) {
      this.showErrors(error);
    }
  }

  async setEnabled(camera, enabled) {
    try {
      await graphql("mutation ($id: String!, $on: Boolean!, $why: String!) { setCameraEnabled(cameraId: $id, enabled: $on, reason: $why) { id } }",
        { id: camera.id, on: enabled, why: `${enabled ? "started" : "stopped"} from the dashboard` });
      this.say(`${enabled ? "Started" : "Stopped"} analysis of ${camera.id}.`);
      await this.onChanged();
    } catch (error) {
      this.say(`Could not ${enabled ? "start" : "stop"} ${camera.id}: ${error.message || error}`, true);
    }
  }

  async remove(camera) {
    const row = this.table.querySelector(`tr[data-camera-id="${CSS.escape(camera.id)}"]`);
    const reason = this.root.querySelector("input[name=remove-reason]").value.trim();
    try {
      await graphql("mutation ($id: String!, $why: String!) { deleteCamera(cameraId: $id, reason: $why) { id } }",
        { id: camera.id, why: reason });
      this.root.querySelector("input[name=remove-reason]").value = "";
      this.say(`Removed camera ${camera.id}.`);
      await this.onChanged();
    } catch (error) {
      this.say(`Could not remove ${camera.id}: ${error.message || error}`, true);
      row?.classList.add("invalid");
    }
  }

  say(text, failed = false) {
    this.status.textContent = text;
    this.status.classList.toggle("failed", failed);
  }

  clearErrors() {
    for (const slot of this.form.querySelectorAll(".field-error")) slot.textContent = "";
    this.form.querySelectorAll(".invalid").forEach((input) => input.classList.remove("invalid"));
  }

  showErrors(error) {
    const problems = error instanceof ApiError ? error.problems : [{ message: String(error.message || error) }];
    for (const { field, message } of problems) {
      const slot = slotOf(field);
      const target = this.form.querySelector(`.field-error[data-for="${slot}"]`);
      target.textContent = target.textContent ? `${target.textContent}; ${message}` : message;
      this.form.querySelector(`[data-field="${slot}"]`)?.classList.add("invalid");
    }
  }
}
