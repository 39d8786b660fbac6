// The privacy officers' page: enrol a customer from a photo, erase one, the customers the
// audit trail knows (by hash) and the audit trail itself. Everything goes through the
// gateway's API (enrollCustomer, eraseCustomer, auditLog), which refuses tokens without
// the privacy_officer scope.

import { ApiError, NO_TOKEN_MESSAGE, graphql, graphqlUpload, token } from "./api.js";

const DAY_MS = 86400000;
const CUSTOMER_DAYS = 30; // the API pages ranges of at most 31 days
const CUSTOMER_TARGET = "customer-sha256:";

const ENROLL = `mutation ($customer: String!, $photo: Upload!, $reason: String!, $vip: Boolean!) {
  enrollCustomer(customerId: $customer, photo: $photo, reason: $reason, vip: $vip) { customerId slot embeddings } }`;
const ERASE = `mutation ($customer: String!, $reason: String!) {
  eraseCustomer(customerId: $customer, reason: $reason) {
    customerId embeddingsRemoved identityEventsRedacted alertsRedacted } }`;
// Pages of 100 entries (a literal: the cost check weighs a variable page size at its most).
const AUDIT = `query ($from: DateTime!, $to: DateTime!, $action: String, $customer: String, $after: String) {
  auditLog(from: $from, to: $to, action: $action, customerId: $customer, first: 100, after: $after) {
    nodes { id at actor action target reason details } pageInfo { endCursor hasNextPage } } }`;

const plural = (count, word) => `${count} ${word}${count === 1 ? "" : "s"}`;

function showError(message) {
  const box = document.getElementById("error");
  box.textContent = message;
  box.hidden = false;
}

/** The form field an API error is about: the identity service's refusals of a photo
 * (extensions.reason) go next to the photo, and so on; the rest next to the form. */
function slotOf(error, form) {
  const ext = error.extensions || {};
  if (ext.code === "PAYLOAD_TOO_LARGE" || /photo|face/i.test(ext.reason || "") || /^photo/.test(error.message)) {
    return form.elements.photo ? "photo" : "form";
  }
  if (ext.reason === "invalid_customer_id" || /customer ?id/i.test(error.message)) return "customer";
  if (/^reason/.test(error.message)) return "reason";
  return "form";
}

function clearErrors(form) {
  for (const slot of form.querySelectorAll(".field-error")) slot.textContent = "";
  form.querySelectorAll(".invalid").forEach((input) => input.classList.remove("invalid"));
}

function showErrors(form, error) {
  const errors = error instanceof ApiError ? error.errors : [{ message: String(error.message || error) }];
  for (const one of errors) {
    const slot = slotOf(one, form);
    const target = form.querySelector(`.field-error[data-for="${slot}"]`);
    target.textContent = target.textContent ? `${target.textContent}; ${one.message}` : one.message;
    form.querySelector(`[data-field="${slot}"]`)?.classList.add("invalid");
  }
}

function say(id, text, outcome) {
  const status = document.getElementById(id);
  status.textContent = text;
  status.dataset.outcome = outcome;
  status.classList.toggle("failed", outcome !== "ok");
}

async function enroll(form) {
  clearErrors(form);
  const customer = form.elements.customer.value.trim();
  const [photo] = form.elements.photo.files;
  try {
    const { enrollCustomer: done } = await graphqlUpload(ENROLL, {
      customer, reason: form.elements.reason.value, vip: form.elements.vip.checked,
    }, { photo });
    say("enroll-status", `Enrolled ${done.customerId}: slot ${done.slot}, ` +
      `${plural(done.embeddings, "embedding")} in the gallery.`, "ok");
    form.reset();
  } catch (error) {
    showErrors(form, error);
    say("enroll-status", `Not enrolled: ${error.message || error}`, "failed");
  }
  await refresh();
}

async function erase(form) {
  clearErrors(form);
  try {
    const { eraseCustomer: done } = await graphql(ERASE, {
      customer: form.elements.customer.value.trim(), reason: form.elements.reason.value,
    });
    say("erase-status", `Erased ${done.customerId}: ${plural(done.embeddingsRemoved, "embedding")} ` +
      `removed, ${plural(done.identityEventsRedacted, "identity event")} and ` +
      `${plural(done.alertsRedacted, "alert")} redacted.`, "ok");
    form.reset();
  } catch (error) {
    showErrors(form, error);
    say("erase-status", `Not erased: ${error.message || error}`, "failed");
  }
  await refresh();
}

function range(days) {
  const now = Date.now();
  // `to` a minute ahead: an entry written as the page asks is in range on a skewed clock.
  return { from: new Date(now - days * DAY_MS).toISOString(), to: new Date(now + 60000).toISOString() };
}

/** Every page of an audit query (`limit` entries at most). */
async function auditEntries(variables, limit) {
  const entries = [];
  let after = null;
  do {
    const { auditLog } = await graphql(AUDIT, { ...variables, after });
    entries.push(...auditLog.nodes);
    after = auditLog.pageInfo.hasNextPage ? auditLog.pageInfo.endCursor : null;
  } while (after && entries.length < limit);
  return entries;
}

const shortHash = (target) => target.slice(CUSTOMER_TARGET.length, CUSTOMER_TARGET.length + 12);
const outcomeOf = (entry) => (entry.details && entry.details.outcome) || "";

/** One row a customer: their newest successful enrolment or erasure says their state. */
async function refreshCustomers() {
  const entries = await auditEntries({ ...range(CUSTOMER_DAYS), action: "customer." }, 2000);
  const byTarget = new Map(); // target -> newest entry that changed the customer's state
  const tried = new Map(); // target -> newest refused attempt, for customers never enrolled
  for (const entry of entries) { // newest first
    const changed = outcomeOf(entry) === "ok";
    if (changed && !byTarget.has(entry.target)) byTarget.set(entry.target, entry);
    if (!changed && !tried.has(entry.target)) tried.set(entry.target, entry);
  }
  for (const [target, entry] of tried) if (!byTarget.has(target)) byTarget.set(target, entry);
  const body = document.querySelector("#customers tbody");
  body.replaceChildren();
  const newestFirst = [...byTarget].sort(([, a], [, b]) => b.at.localeCompare(a.at));
  for (const [target, entry] of newestFirst) {
    const state = outcomeOf(entry) !== "ok" ? `refused (${outcomeOf(entry)})`
      : entry.action === "customer.erase" ? "erased" : "enrolled";
    const row = body.insertRow();
    Object.assign(row.dataset, { target, state: state.split(" ")[0], at: entry.at });
    for (const text of [shortHash(target), state, new Date(entry.at).toLocaleString(), entry.actor, entry.reason || ""]) {
      row.insertCell().textContent = text;
    }
    row.cells[0].title = target;
  }
  if (!byTarget.size) emptyRow(body, 5, "no enrolments in the last 30 days");
}

function emptyRow(body, columns, text) {
  const cell = body.insertRow().insertCell();
  cell.colSpan = columns;
  cell.className = "empty";
  cell.textContent = text;
}

/** Details worth a column: everything but what other columns show. */
function detailsText(details) {
  return Object.entries(details || {}).map(([k, v]) => `${k}: ${typeof v === "object" ? JSON.stringify(v) : v}`).join(", ");
}

class AuditTrail {
  constructor() {
    this.form = document.getElementById("audit-filter");
    this.body = document.querySelector("#audit tbody");
    this.more = document.getElementById("audit-more");
    this.after = null;
    this.form.onsubmit = (event) => { event.preventDefault(); this.load().catch(this.failed); };
    this.more.onclick = () => this.load(this.after).catch(this.failed);
  }

  failed(error) {
    showError(`audit trail: ${error.message || error}`);
  }

  /** The first page for the filter (or the page after `after`), appended. */
  async load(after = null) {
    const customer = this.form.elements.customer.value.trim();
    const variables = {
      ...range(CUSTOMER_DAYS), action: this.form.elements.action.value || null,
      customer: customer || null, after,
    };
    if (!after) this.variables = variables;
    else Object.assign(variables, this.variables, { after });
    const { auditLog } = await graphql(AUDIT, variables);
    if (!after) this.body.replaceChildren();
    for (const entry of auditLog.nodes) {
      const row = this.body.insertRow();
      Object.assign(row.dataset, { entryId: entry.id, action: entry.action, target: entry.target, outcome: outcomeOf(entry) });
      const target = entry.target.startsWith(CUSTOMER_TARGET) && customer ? `${customer} (${shortHash(entry.target)})` : entry.target;
      for (const text of [new Date(entry.at).toLocaleString(), entry.actor, entry.action, target, entry.reason || "", detailsText(entry.details)]) {
        row.insertCell().textContent = text;
      }
    }
    if (!this.body.rows.length) emptyRow(this.body, 6, "no entries");
    this.after = auditLog.pageInfo.hasNextPage ? auditLog.pageInfo.endCursor : null;
    this.more.hidden = !this.after;
  }
}

const trail = new AuditTrail();

async function refresh() {
  try {
    await Promise.all([refreshCustomers(), trail.load()]);
  } catch (error) {
    showError(error.message || String(error));
  }
  document.body.dataset.refreshed = String(Number(document.body.dataset.refreshed || 0) + 1);
}

async function main() {
  if (!token) return showError(NO_TOKEN_MESSAGE);
  const enrollForm = document.getElementById("enroll-form");
  enrollForm.onsubmit = (event) => { event.preventDefault(); enroll(enrollForm); };
  const eraseForm = document.getElementById("erase-form");
  eraseForm.onsubmit = (event) => { event.preventDefault(); erase(eraseForm); };
  await refresh();
  document.body.dataset.ready = "1";
}

main();
