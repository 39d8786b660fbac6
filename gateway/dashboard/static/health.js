// The health badge: the gateway's /ready, which reports each dependency it checks.

export async function refreshHealth() {
  const badge = document.getElementById("health");
  try {
    const response = await fetch("/ready");
    const body = await response.json();
    badge.dataset.state = response.ok ? "ok" : "down";
    badge.textContent = `health: ${Object.entries(body).map(([k, v]) => `${k} ${v ? "ok" : "down"}`).join(", ")}`;
  } catch (error) {
    badge.dataset.state = "down";
    badge.textContent = "health: gateway unreachable";
  }
}
