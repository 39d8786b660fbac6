// The health badge. Its state is the gateway's own /ready (database, schema, NATS, live
// feeds); its text, tooltip and details (click) list every other part of the system from
// /health's components (Triton, store nodes, identity, analytics partitions, ingest),
// each with its status and reason. Both routes are public: no token needed.

function componentLine(component) {
  return `${component.name}: ${component.status} (${component.reason})`;
}

function showDetails(list, gateway, components) {
  const items = [
    `gateway: ${Object.entries(gateway).filter(([k]) => k !== "ready")
      .map(([k, v]) => `${k} ${v ? "ok" : "down"}`).join(", ")}`,
    ...components.map(componentLine),
  ];
  list.replaceChildren(...items.map((text, i) => {
    const item = document.createElement("li");
    item.textContent = text;
    if (i > 0) item.dataset.status = components[i - 1].status;
    return item;
  }));
}

export async function refreshHealth() {
  const badge = document.getElementById("health");
  const details = document.getElementById("health-details");
  if (!badge.dataset.toggles) {
    badge.dataset.toggles = "1";
    const toggle = () => { details.hidden = !details.hidden; };
    badge.addEventListener("click", toggle);
    badge.addEventListener("keydown", (event) => { if (event.key === "Enter") toggle(); });
  }
  try {
    const [ready, health] = await Promise.all([fetch("/ready"), fetch("/health")]);
    const gateway = await ready.json();
    const system = await health.json();
    const components = system.components || [];
    badge.dataset.state = ready.ok ? "ok" : "down";
    badge.dataset.system = system.system || "unknown";
    const failing = components.filter((c) => c.status === "down" || c.status === "degraded");
    const own = ready.ok ? "gateway ok" : "gateway down";
    badge.textContent = failing.length
      ? `health: ${own} · ${failing.map((c) => `${c.name} ${c.status}`).join(", ")}`
      : `health: ${own} · ${components.filter((c) => c.status === "ok").length} of ${components.length} parts ok`;
    badge.title = [own, ...components.map(componentLine)].join("\n");
    showDetails(details, gateway, components);
  } catch (error) {
    badge.dataset.state = "down";
    badge.dataset.system = "unknown";
    badge.textContent = "health: gateway unreachable";
    badge.title = String(error);
  }
}
