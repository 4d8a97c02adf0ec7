"""The notifier: routes alert events to the owning utility by tier, escalates unacknowledged tier-1 alerts,
sends tier-3 digests, and logs every delivery in QuestDB's ``notifications`` table.

* :mod:`.routes` — the routing file (contacts, routes per owner and tier, escalation levels, SMTP);
* :mod:`.core` — the decisions, free of I/O, on an injectable :class:`~lifeline.clock.Clock`;
* :mod:`.channels` — signed webhooks and e-mail; :mod:`.robots` — DingTalk, WeCom, Feishu group robots;
  :mod:`.sms` — SMS through an HTTP gateway; :mod:`.text` — the words, in Chinese or English;
* :mod:`.daily` — the daily per-owner digest;
* :mod:`.notifier` — the service: alerts topic in, deliveries out, one per (alert, event, contact).
"""
