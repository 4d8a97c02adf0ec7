// Work orders in the console: dispatch from an alert, advance step by step, live over /ws/work-orders.
"use strict";
(() => {
  const app = window.lifelineConsole;
  const {t, el} = app;
  const orders = new Map();   // order_id -> WorkOrderOut
  app.orders = orders;
  let retryMs = 1000;

  function connect() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${scheme}//${location.host}/ws/work-orders`, ["lifeline", "bearer." + app.token]);
    ws.onmessage = (message) => {
      const frame = JSON.parse(message.data);
      if (frame.type === "snapshot") {
        retryMs = 1000;
        orders.clear();
        for (const order of frame.orders) orders.set(order.order_id, order);
        refresh(null);
      } else if (frame.type === "order") {
        orders.set(frame.order.order_id, frame.order);
        refresh(frame.order.alert_id);
      }
    };
    ws.onclose = (close) => {
      if (app.stopped || close.code === 4401 || close.code === 4403) return;
      setTimeout(connect, retryMs);
      retryMs = Math.min(retryMs * 2, 10000);
    };
  }

  function refresh(alertId) {
    const section = document.getElementById("orders-section");
    if (section && (alertId === null || section.dataset.alert === alertId)) fill(section);
  }

  function fmt(iso) { return new Date(Date.parse(iso)).toLocaleString(app.lang === "zh" ? "zh-CN" : "en-GB", {hour12: false}); }

  async function send(path, body, out) {
    try {
      await app.api(path, {method: "POST", body: JSON.stringify(body)});
      out.textContent = t("done");
    } catch (error) {
      out.textContent = error.message;
    }
  }

  function fill(section) {
    const alertId = section.dataset.alert;
    const mine = [...orders.values()].filter((o) => o.alert_id === alertId)
      .sort((a, b) => Date.parse(b.history[0].ts) - Date.parse(a.history[0].ts));
    const out = el("span", {id: "order-result"});
    const note = el("input", {id: "wo-comment", placeholder: t("comment")});
    const list = mine.length ? el("ul", {class: "orders"}, ...mine.map((o) => el("li", {"data-order": o.order_id, "data-state": o.state},
      el("div", {}, el("b", {}, o.team), " · ",
        el("span", {class: "order-state" + (o.overdue ? " overdue" : "")}, t("order_state", o.state) + (o.overdue ? ` · ${t("order_state", "escalated")}` : "")),
        ` · ≤ ${fmt(o.deadline)}`),
      el("ol", {class: "timeline"}, ...o.history.map((h) => el("li", {"data-step": h.event},
        el("time", {}, fmt(h.ts)), `${t("order_state", h.event === "overdue" ? "escalated" : h.event)} · ${h.actor}`,
        h.comment ? ` — ${h.comment}` : ""))),
      o.next_state ? el("button", {class: "advance", "data-next": o.next_state,
        onclick: () => send(`/work-orders/${o.order_id}/advance`, {state: o.next_state, comment: note.value}, out)},
        `${t("advance")} → ${t("order_state", o.next_state)}`) : null,
    ))) : el("p", {class: "hint"}, t("no_orders"));
    const team = el("input", {id: "wo-team", placeholder: t("team")});
    const minutes = el("input", {id: "wo-deadline", type: "number", min: "1", value: "60", style: "width:70px", title: t("deadline_min")});
    const dispatch = el("button", {id: "wo-dispatch", onclick: () => send(`/alerts/${encodeURIComponent(alertId)}/work-orders`,
      {team: team.value, deadline_minutes: Number(minutes.value), comment: note.value}, out)}, t("dispatch"));
    section.replaceChildren(el("h3", {}, t("orders")), list,
      el("div", {class: "actions"}, el("div", {class: "row"}, team, minutes, el("span", {class: "hint"}, t("deadline_min"))),
        el("div", {class: "row"}, note, dispatch, out)));
  }

  app.extensions.push({
    onLogin: connect,
    detailSection(alert) {
      const section = el("section", {id: "orders-section", "data-alert": alert.alert_id});
      fill(section);
      return section;
    },
  });
})();
