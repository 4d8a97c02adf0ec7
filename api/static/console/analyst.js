// Analyst page: read-only SQL (analyst and admin roles), results as a table and a chart, CSV download.
"use strict";
(() => {
  const app = window.lifelineConsole;
  const {t, el} = app;
  let examples = [];

  function allowed() { return app.who && (app.who.role === "analyst" || app.who.role === "admin"); }

  async function loadExamples() {
    examples = await app.api("/analyst/examples");
    const select = document.getElementById("examples");
    select.replaceChildren(new Option(t("examples"), ""),
      ...examples.map((e) => new Option(app.lang === "zh" ? e.title_zh : e.title_en, e.key)));
  }

  function body() { return JSON.stringify({sql: document.getElementById("sql").value, limit: 1000}); }

  async function run() {
    const status = document.getElementById("sql-status");
    status.textContent = "…";
    let result;
    try {
      result = await app.api("/analyst/query", {method: "POST", body: body()});
    } catch (error) {
      status.textContent = error.message;
      status.dataset.state = "error";
      return;
    }
    status.dataset.state = "ok";
    status.textContent = `${result.rows.length} ${t("rows")}${result.truncated ? " " + t("truncated") : ""} · ${result.elapsed_ms} ms`;
    const table = document.getElementById("sql-result");
    table.tHead.replaceChildren(el("tr", {}, ...result.columns.map((c) => el("th", {}, c))));
    table.tBodies[0].replaceChildren(...result.rows.map((r) => el("tr", {}, ...r.map((v) => el("td", {}, v === null ? "" : String(v))))));
    chart(result);
  }

  // a numeric column against the first column: a line over time, else bars per label
  function chart(result) {
    const box = document.getElementById("sql-chart");
    box.replaceChildren();
    // the last numeric column is usually the measure (count, mean); the first column labels the x axis
    const isNumeric = (i) => i > 0 && result.rows.length > 0 && result.rows.every((r) => typeof r[i] === "number");
    const numeric = result.columns.map((_, i) => i).filter(isNumeric).pop() ?? -1;
    if (numeric < 0 || !result.rows.length) return;
    const rows = result.rows.slice(0, 200);
    const values = rows.map((r) => r[numeric]);
    const hi = Math.max(...values, 0), lo = Math.min(...values, 0), span = hi - lo || 1;
    const W = 1000, H = 180, pad = 30, step = (W - pad - 10) / Math.max(rows.length, 1);
    const y = (v) => H - 18 - (v - lo) / span * (H - 30);
    const isTime = rows.every((r) => typeof r[0] === "string" && !Number.isNaN(Date.parse(r[0])) && r[0].includes("T"));
    let shapes;
    if (isTime && new Set(rows.map((r) => r[0])).size === rows.length) {
      const pts = rows.map((r, i) => `${(pad + i * step + step / 2).toFixed(1)},${y(r[numeric]).toFixed(1)}`).join(" ");
      shapes = `<polyline class="line" points="${pts}"/>`;
    } else {
      shapes = rows.map((r, i) => `<rect class="bar" x="${(pad + i * step + 1).toFixed(1)}" width="${Math.max(step - 2, 1).toFixed(1)}"` +
        ` y="${Math.min(y(r[numeric]), y(0)).toFixed(1)}" height="${Math.abs(y(0) - y(r[numeric])).toFixed(1)}"><title>${String(r[0])}: ${r[numeric]}</title></rect>`).join("");
    }
    box.insertAdjacentHTML("beforeend", `<svg viewBox="0 0 ${W} ${H}" preserveAspectRatio="none" xmlns="http://www.w3.org/2000/svg">${shapes}` +
      `<text x="2" y="12">${hi}</text><text x="2" y="${H - 4}">${lo}</text><text x="${W / 2}" y="12">${result.columns[numeric]}</text></svg>`);
  }

  async function download() {
    const response = await fetch("/analyst/query.csv", {method: "POST", body: body(),
      headers: {Authorization: "Bearer " + app.token, "Content-Type": "application/json"}});
    if (!response.ok) { document.getElementById("sql-status").textContent = (await response.json()).message; return; }
    const link = el("a", {href: URL.createObjectURL(await response.blob()), download: "query.csv"});
    document.body.append(link);
    link.click();
    link.remove();
  }

  app.extensions.push({
    onLogin() {
      if (!allowed()) return;
      document.querySelector('#tabs button[data-tab="analyst"]').hidden = false;
      document.getElementById("run-sql").addEventListener("click", run);
      document.getElementById("csv").addEventListener("click", download);
      document.getElementById("examples").addEventListener("change", (ev) => {
        const example = examples.find((e) => e.key === ev.target.value);
        if (example) document.getElementById("sql").value = example.sql;
      });
      loadExamples().catch((error) => console.warn("examples", error));
    },
  });
  app.runSql = run;
})();
