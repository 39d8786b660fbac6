// The live track events list, newest first by the time the tracker saw them (events of
// several cameras and of the node's batches arrive out of order), at most 50 kept.

const KEEP = 50;
let received = 0;

export function showTrackEvent(event) {
  received += 1;
  document.body.dataset.trackEvents = String(received);
  const list = document.getElementById("events");
  const item = document.createElement("li");
  const at = new Date(event.occurredAt);
  item.dataset.at = String(at.getTime());
  item.textContent = `${at.toLocaleTimeString()} ${event.cameraId} #${event.trackId} ${event.kind.toLowerCase()}` +
    (event.durationS != null ? ` after ${event.durationS.toFixed(1)} s` : "");
  // Insert before the first item older than this one (most arrive in order: check the top).
  let before = list.firstElementChild;
  while (before && Number(before.dataset.at) > at.getTime()) before = before.nextElementSibling;
  list.insertBefore(item, before);
  while (list.children.length > KEEP) list.lastElementChild.remove();
}
