// Alerts of the last 24 hours and live ones, newest first, each with an Acknowledge
// button (operators; the first acknowledgement stays, as the API keeps it).

import { graphql } from "./api.js";

const ALERT_FIELDS = "id kind severity cameraId occurredAt acknowledged acknowledgedBy";

function render(item, alert) {
  item.className = `alert severity-${String(alert.severity).toLowerCase()}`;
  item.dataset.alertId = alert.id;
  item.dataset.acknowledged = String(alert.acknowledged);
  item.replaceChildren();
  const text = document.createElement("span");
  text.textContent = `${new Date(alert.occurredAt).toLocaleString()} ${alert.severity} ${alert.kind} on ${alert.cameraId}` +
    (alert.acknowledged ? ` (acknowledged${alert.acknowledgedBy ? ` by ${alert.acknowledgedBy}` : ""})` : "");
  item.append(text);
  if (!alert.acknowledged && alert.id) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "ack";
    button.textContent = "Acknowledge";
    button.onclick = () => acknowledge(item, alert);
    item.append(" ", button);
  }
}

async function acknowledge(item, alert) {
  try {
    const data = await graphql(
      `mutation ($id: UUID!) { acknowledgeAlert(id: $id) { ${ALERT_FIELDS} } }`, { id: alert.id });
    render(item, data.acknowledgeAlert);
  } catch (error) {
    item.querySelector(".ack-error")?.remove();
    const message = Object.assign(document.createElement("span"), { className: "ack-error", textContent: ` ${error.message}` });
    item.append(message);
  }
}

export function showAlert(alert) {
  const list = document.getElementById("alerts");
  list.querySelector(".empty")?.remove();
  let item = alert.id ? list.querySelector(`[data-alert-id="${CSS.escape(alert.id)}"]`) : null;
  if (!item) {
    item = document.createElement("li");
    list.prepend(item);
  }
  render(item, alert);
}

export async function loadAlerts() {
  const to = new Date(), from = new Date(to.getTime() - 24 * 3600 * 1000);
  const { alerts } = await graphql(
    `query ($from: DateTime!, $to: DateTime!) {
       alerts(from: $from, to: $to, first: 20) { nodes { ${ALERT_FIELDS} } } }`,
    { from: from.toISOString(), to: to.toISOString() });
  alerts.nodes.slice().reverse().forEach(showAlert);
}

export function followAlerts(feed) {
  feed.subscribe(`subscription { alerts { ${ALERT_FIELDS} } }`, {}, (data) => showAlert(data.alerts));
}
