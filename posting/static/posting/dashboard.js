// The dashboard re-renders itself from /dashboard/data.json every few seconds.
(function () {
  "use strict";
  const root = document.getElementById("dashboard");
  const REFRESH_MS = 5000;
  // Segment names and labels come with the data (derived from the failure taxonomy).
  let LABELS = {};
  const plural = (n, word) => n + " " + word + (n === 1 ? "" : "s");
  let chart = null;

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => {
      if (k === "class") node.className = v; else node.setAttribute(k, v);
    });
    children.flat().forEach((c) => node.append(c instanceof Node ? c : document.createTextNode(String(c))));
    return node;
  }

  function renderPasses(passes) {
    const box = document.getElementById("passes");
    box.replaceChildren(...passes.slice().reverse().map((p) => {
      const bar = el("div", { class: "pass-bar" });
      const legend = el("div", { class: "legend" });
      Object.entries(p.segments).forEach(([name, n]) => {
        if (!n) return;
        bar.append(el("span", { class: "seg-" + name, title: LABELS[name] + ": " + n,
                                style: "width:" + (100 * n / p.total) + "%" }));
        legend.append(el("i", { class: "seg-" + name }), el("span", { "data-segment": name }, LABELS[name] + " " + n));
      });
      const moved = p.figures.moved_on ? " · " + p.figures.moved_on + " moved on to a later pass" : "";
      return el("div", { class: "pass", "data-pass": p.number },
        el("a", { href: p.link }, "Pass " + p.number), " — " + plural(p.total, "job") + moved, bar, legend);
    }));
  }

  function renderFailures(rows) {
    if (!rows.length) {
      document.querySelector("#failures tbody").replaceChildren(
        el("tr", {}, el("td", { colspan: "4" }, "No failed attempts in this pass.")));
      return;
    }
    document.querySelector("#failures tbody").replaceChildren(...rows.map((r) =>
      el("tr", {}, el("td", {}, r.category), el("td", {}, r.type),
         el("td", {}, el("a", { href: r.link }, r.count)), el("td", {}, r.jobs))));
  }

  function renderDevices(devices) {
    document.getElementById("devices").replaceChildren(...devices.map((d) =>
      el("div", { class: "device " + d.health + (d.enabled ? "" : " disabled"), "data-device": d.name },
        el("strong", {}, d.name), " (" + d.host + (d.cluster_alive ? "" : ", cluster down") + ")",
        el("div", {}, d.health + (d.draining ? ", draining" : "") + ", streak " + d.failure_streak),
        el("div", {}, d.current_job ? "running " + d.current_job : "idle"),
        el("div", {}, "last seen " + (d.last_seen ? new Date(d.last_seen).toLocaleTimeString() : "never")))));
  }

  function renderRecent(failures) {
    document.getElementById("recent-failures").replaceChildren(...failures.map((f) =>
      el("div", { class: "failure" },
        el("a", { href: f.link }, f.job), " on " + f.device + ": " + f.category + "/" + (f.type || "—"),
        el("div", {}, f.error),
        f.screenshot ? el("a", { href: f.screenshot }, el("img", { src: f.screenshot, alt: "screenshot" })) : "")));
  }

  function renderChart(points) {
    const labels = points.map((p) => new Date(p.hour).getHours() + ":00");
    const data = [points.map((p) => p.success), points.map((p) => p.failed)];
    if (!window.Chart) return;
    if (chart) {
      chart.data.labels = labels;
      chart.data.datasets.forEach((set, i) => { set.data = data[i]; });
      chart.update("none");
      return;
    }
    chart = new window.Chart(document.getElementById("throughput"), {
      type: "bar",
      data: { labels, datasets: [
        { label: "success", data: data[0], backgroundColor: "#198754" },
        { label: "failed", data: data[1], backgroundColor: "#dc3545" } ] },
      options: { animation: false, scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true } } },
    });
  }

  function render(data) {
    document.getElementById("fleet-state").textContent = data.paused ? "Paused" : "Running";
    document.getElementById("current-pass").textContent = data.current_pass || "—";
    document.getElementById("eta").textContent = data.eta_minutes === null ? "—"
      : data.eta_minutes === 0 ? "done" : data.eta_minutes + " min";
    document.getElementById("updated").textContent = new Date(data.now).toLocaleTimeString();
    document.getElementById("pauses").replaceChildren(...data.pauses.map((p) =>
      el("li", { class: "warning", "data-pause": p.scope + ":" + p.name }, "Paused: " + p.text)));
    document.getElementById("needs-attention-box").hidden = !data.needs_attention.length;
    document.getElementById("needs-attention").replaceChildren(...data.needs_attention.map((n) =>
      el("li", { class: "error", "data-attention": n.kind },
        el("a", { href: n.link }, n.text),
        n.accounts.length ? el("div", {}, "accounts: " + n.accounts.join(", ")) : "")));
    document.getElementById("alerts").replaceChildren(...data.alerts.map((a) =>
      el("li", { class: "error" }, a.cluster + ": " + a.alert)));
    LABELS = data.segment_labels;
    renderPasses(data.passes);
    renderFailures(data.failures);
    renderDevices(data.devices);
    renderRecent(data.recent_failures);
    renderChart(data.throughput);
    root.dataset.refreshed = data.now;
  }

  async function refresh() {
    try {
      const response = await fetch(root.dataset.url, { credentials: "same-origin" });
      if (response.ok) render(await response.json());
    } catch (error) {
      document.getElementById("updated").textContent = "refresh failed, retrying";
    }
  }

  render(JSON.parse(document.getElementById("dashboard-data").textContent));
  setInterval(refresh, REFRESH_MS);
})();
