// The dashboard re-renders itself from /dashboard/data.json every few seconds.
(function () {
  "use strict";
  const root = document.getElementById("dashboard");
  const REFRESH_MS = 5000;
  // Segment names and labels come with the data (derived from the failure taxonomy).
  let LABELS = {};
  const plural = (n, word) => n + " " + word + (n === 1 ? "" : "s");
  let chart = null;
  let TIME_ZONE = "UTC";

  // The console's one time format (as the admin's): relative, the absolute time and time
  // zone on hover.
  function relative(iso, now) {
    let seconds = (now - new Date(iso)) / 1000;
    const future = seconds < 0;
    seconds = Math.abs(seconds);
    if (seconds < 60) return future ? "in under a minute" : "just now";
    const minutes = Math.floor(seconds / 60);
    let text;
    if (minutes < 60) text = minutes + " min";
    else if (minutes < 24 * 60) {
      const hours = Math.floor(minutes / 60), rest = minutes % 60;
      text = rest && hours < 10 ? hours + " h " + rest + " min" : hours + " h";
    } else text = plural(Math.floor(minutes / (24 * 60)), "day");
    return future ? "in " + text : text + " ago";
  }

  function absolute(iso) {
    const parts = new Intl.DateTimeFormat("en-CA", {
      timeZone: TIME_ZONE, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit",
      minute: "2-digit", second: "2-digit", hour12: false, timeZoneName: "short",
    }).formatToParts(new Date(iso));
    const get = (type) => (parts.find((p) => p.type === type) || {}).value;
    return get("year") + "-" + get("month") + "-" + get("day") + " " + get("hour") + ":" +
      get("minute") + ":" + get("second") + " " + get("timeZoneName");
  }

  let NOW = new Date();
  function when(iso) {
    if (!iso) return "—";
    return el("time", { datetime: iso, title: absolute(iso) }, relative(iso, NOW));
  }

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
        const link = p.segment_links[name];
        bar.append(el("a", { class: "seg-" + name, title: LABELS[name] + ": " + n, href: link,
                             style: "width:" + (100 * n / p.total) + "%" }));
        legend.append(el("i", { class: "seg-" + name }),
          el("a", { "data-segment": name, href: link }, LABELS[name] + " " + n));
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
    document.getElementById("devices").replaceChildren(...devices.map((d) => {
      const quarantine = d.quarantined_until
        ? el("div", {}, "quarantined until ", when(d.quarantined_until),
             " (streak " + d.streak_at_quarantine + (d.health_detail ? ": " + d.health_detail : "") + ")")
        : el("div", {}, d.health + (d.draining ? ", draining" : "") + ", failure streak " + d.failure_streak);
      return el("div", { class: "device " + d.health + (d.enabled ? "" : " disabled"), "data-device": d.name },
        el("a", { href: d.link, title: "this device's jobs" }, el("strong", {}, d.name)),
        " (" + d.host + (d.cluster_alive ? "" : ", cluster down") + ") ",
        el("a", { href: d.admin_link, class: "device-admin" }, "device page"),
        quarantine,
        el("div", {}, d.current_job ? "running " + d.current_job : (d.enabled ? "idle" : "disabled")),
        el("div", {}, "last seen ", d.last_seen ? when(d.last_seen) : "never"));
    }));
  }

  function renderRecent(failures) {
    const box = document.getElementById("recent-failures");
    if (!failures.length) {
      box.replaceChildren(el("p", {}, "No failed attempt yet."));
      return;
    }
    box.replaceChildren(...failures.map((f) =>
      el("div", { class: "failure" },
        el("div", {}, el("a", { href: f.job_link }, f.job),
          " · attempt " + f.attempt + " of " + f.max_attempts + " (pass " + f.pass_number + ") · ",
          when(f.finished)),
        el("div", {}, "on ", el("a", { href: f.device_link }, f.device), ": ",
          el("a", { href: f.type_link }, f.category + "/" + (f.type || "unrecognised"))),
        el("div", { class: "failure-error" }, f.error),
        f.screenshot ? el("a", { href: f.screenshot }, el("img", { src: f.screenshot, alt: "screenshot" })) : "")));
  }

  function renderEta(eta) {
    const box = document.getElementById("eta");
    if (!eta) { box.replaceChildren("—"); return; }
    if (eta.state === "done") {
      box.replaceChildren(eta.text, eta.finished_at ? el("span", {}, ", finished ", when(eta.finished_at)) : "");
    } else if (eta.state === "running") {
      box.replaceChildren(eta.text + ", finishing ", when(eta.finish_at),
        el("span", { class: "eta-basis" }, " (from " + eta.basis + ")"));
    } else {
      box.replaceChildren(eta.text);
    }
  }

  function renderAttention(items) {
    document.getElementById("needs-attention-box").hidden = !items.length;
    document.getElementById("needs-attention").replaceChildren(...items.map((n) =>
      el("li", { class: n.kind === "breaker" ? "error" : "warning", "data-attention": n.kind },
        el("a", { href: n.link }, n.text),
        n.accounts && n.accounts.length ? el("div", {}, "accounts: " + n.accounts.join(", ")) : "",
        n.items && n.items.length ? el("ul", {}, ...n.items.map((i) => el("li", {},
          el("a", { href: i.link }, i.text),
          i.since ? el("span", {}, " · since ", when(i.since)) : "",
          i.until ? el("span", {}, " · " + (i.until_label || "until") + " ", when(i.until)) : "")),
          n.more ? el("li", {}, el("a", { href: n.link }, "and " + n.more + " more")) : "") : "")));
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
    TIME_ZONE = data.time_zone;
    NOW = new Date(data.now);
    const state = document.getElementById("fleet-state");
    state.replaceChildren(data.paused ? "Fleet paused" : "Running");
    if (data.paused && data.fleet.since) {
      state.append(el("span", {}, " by " + (data.fleet.by || "an operator") + " ", when(data.fleet.since)));
    }
    document.getElementById("current-pass").textContent = data.current_pass || "—";
    renderEta(data.eta);
    document.getElementById("updated").replaceChildren(el("time", { title: absolute(data.now) },
      absolute(data.now).slice(11)));
    document.getElementById("pauses").replaceChildren(...data.pauses.map((p) =>
      el("li", { class: "warning", "data-pause": p.scope + ":" + p.name }, "Paused: " + p.text)));
    document.getElementById("pause-button-label") &&
      (document.getElementById("pause-button-label").textContent = data.paused ? "Resume the fleet…" : "Pause the fleet…");
    renderAttention(data.needs_attention);
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
