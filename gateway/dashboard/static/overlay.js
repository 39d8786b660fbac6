// Zones and counting lines drawn over a camera's live view: an SVG laid exactly over the
// video picture, its shapes placed by the configuration's normalized coordinates (0..1 of
// the frame's width and height, y down), redrawn whenever the tile is resized.
//
// A line's "in" side follows the configuration's convention: standing at its first point
// `a` facing its second `b` on the image, `inSide` "right" is the right-hand side; the
// arrow points into it.

const SVG = "http://www.w3.org/2000/svg";

export const ZONE_COLORS = {
  area: "#4fc3f7",
  queue: "#ffb74d",
  checkout: "#81c784",
  entrance: "#fff176",
  exit: "#fff176",
  staff_only: "#e57373",
  display: "#ba68c8",
  fitting_room: "#f06292",
  service_counter: "#4db6ac",
};

function element(name, attributes = {}, parent = null) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
  if (parent) parent.append(node);
  return node;
}

/** The unit normal of a -> b pointing into `side` ("left" or "right"), in pixels. */
export function inNormal(a, b, side) {
  const dx = b[0] - a[0], dy = b[1] - a[1];
  const length = Math.hypot(dx, dy) || 1;
  // y points down, so the right-hand normal of (dx, dy) is (-dy, dx).
  const [nx, ny] = side === "right" ? [-dy, dx] : [dy, -dx];
  return [nx / length, ny / length];
}

export class CameraOverlay {
  constructor(svg) {
    this.svg = svg;
    this.zones = [];
    this.lines = [];
    this.counts = new Map(); // zone id -> live occupancy
    this.draft = null; // {kind: "zone"|"line", points: [[x, y]], inSide}
    this.selected = null; // id of the zone or line being edited
    new ResizeObserver(() => this.render()).observe(svg);
  }

  show({ zones, lines }) {
    this.zones = zones;
    this.lines = lines;
    this.render();
  }

  setCount(zoneId, count) {
    this.counts.set(zoneId, count);
    this.render();
  }

  /** Normalized frame coordinates of a pointer event on the overlay. */
  pointOf(event) {
    const box = this.svg.getBoundingClientRect();
    const clamp = (v) => Math.round(Math.min(1, Math.max(0, v)) * 10000) / 10000;
    return [clamp((event.clientX - box.left) / box.width), clamp((event.clientY - box.top) / box.height)];
  }

  /** Pixel distance on the overlay between two normalized points. */
  distance(p, q) {
    const { width, height } = this.svg.getBoundingClientRect();
    return Math.hypot((p[0] - q[0]) * width, (p[1] - q[1]) * height);
  }

  render() {
    const width = this.svg.clientWidth, height = this.svg.clientHeight;
    if (!width || !height) return;
    this.svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
    this.svg.replaceChildren();
    const px = ([x, y]) => [x * width, y * height];
    for (const zone of this.zones) this.drawZone(zone, px);
    for (const line of this.lines) this.drawLine(line, px);
    if (this.draft) this.drawDraft(px);
  }

  drawZone(zone, px) {
    const color = ZONE_COLORS[zone.kind] || "#cfd8dc";
    const group = element("g", { class: "zone", "data-zone-id": zone.id, "data-kind": zone.kind }, this.svg);
    if (zone.id === this.selected) group.classList.add("selected");
    const points = zone.polygon.map(px);
    element("polygon", {
      points: points.map((p) => p.join(",")).join(" "),
      fill: color,
      "fill-opacity": 0.18,
      stroke: color,
      "stroke-width": zone.id === this.selected ? 3 : 2,
    }, group);
    const count = this.counts.get(zone.id);
    const label = `${zone.name}${count == null ? "" : ` · ${count}`}` +
      (zone.capacity != null && count != null ? `/${zone.capacity}` : "");
    const [x, y] = points.reduce((top, p) => (p[1] < top[1] ? p : top), points[0]);
    const text = element("text", { x: x + 4, y: y + 14, fill: color, class: "label" }, group);
    text.textContent = label;
    element("title", {}, group).textContent = `${zone.kind} zone ${zone.id}`;
  }

  drawLine(line, px) {
    const group = element("g", { class: "line", "data-line-id": line.id }, this.svg);
    if (line.id === this.selected) group.classList.add("selected");
    this.drawDirectedSegment(group, px(line.points[0]), px(line.points[1]), line.inSide, "#fff176", line.name);
    element("title", {}, group).textContent = `line ${line.id}: the arrow points "in"`;
  }

  drawDirectedSegment(group, a, b, inSide, color, name) {
    element("line", { x1: a[0], y1: a[1], x2: b[0], y2: b[1], stroke: color, "stroke-width": 3 }, group);
    for (const [x, y] of [a, b]) element("circle", { cx: x, cy: y, r: 3.5, fill: color }, group);
    if (!inSide) return;
    const [nx, ny] = inNormal(a, b, inSide);
    const mx = (a[0] + b[0]) / 2, my = (a[1] + b[1]) / 2;
    const tip = [mx + nx * 26, my + ny * 26];
    element("line", { x1: mx, y1: my, x2: tip[0], y2: tip[1], stroke: color, "stroke-width": 2 }, group);
    // arrow head: two short strokes back from the tip
    const back = [-nx * 8, -ny * 8], side = [-ny * 5, nx * 5];
    element("polygon", {
      points: [tip, [tip[0] + back[0] + side[0], tip[1] + back[1] + side[1]],
        [tip[0] + back[0] - side[0], tip[1] + back[1] - side[1]]].map((p) => p.join(",")).join(" "),
      fill: color,
    }, group);
    const inLabel = element("text", { x: tip[0] + nx * 6 - 6, y: tip[1] + ny * 10 + 4, fill: color, class: "label" }, group);
    inLabel.textContent = "in";
    if (name) {
      // On the "out" side of the middle, clear of the arrow and of zone labels at corners.
      const label = element("text", {
        x: mx - nx * 8, y: my - ny * 8 - 8, fill: color, class: "label",
        "text-anchor": nx > 0 ? "end" : "start",
      }, group);
      label.textContent = name;
    }
  }

  drawDraft(px) {
    const group = element("g", { class: "draft" }, this.svg);
    const points = this.draft.points.map(px);
    if (this.draft.kind === "line") {
      if (points.length === 2) {
        this.drawDirectedSegment(group, points[0], points[1], this.draft.inSide, "#ff80ab", null);
      }
    } else if (points.length > 1) {
      element(this.draft.closed ? "polygon" : "polyline", {
        points: points.map((p) => p.join(",")).join(" "),
        fill: this.draft.closed ? "#ff80ab" : "none",
        "fill-opacity": 0.2,
        stroke: "#ff80ab",
        "stroke-width": 2,
        "stroke-dasharray": this.draft.closed ? "" : "6 4",
      }, group);
    }
    points.forEach(([x, y], i) => {
      element("circle", { cx: x, cy: y, r: i === 0 ? 6 : 4, fill: "#ff80ab", class: "vertex" }, group);
    });
  }
}
