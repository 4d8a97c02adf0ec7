"""Automatic asset health reports (``lifeline report``): an HTML page per asset or group and period, with
readings coverage, window statistics against design values and thresholds, alerts and faults, inline SVG
charts of the key channels and a plain-language verdict (Chinese first); a PDF through the system Chromium.

* :mod:`.model` — the report's content and the verdict, free of I/O;
* :mod:`.data` — reading it from QuestDB (``readings``, ``sensor_stats``, ``alert_events``);
* :mod:`.svg`, :mod:`.html` — charts and page, pure Python, no scripts, nothing fetched;
* :mod:`.pdf` — headless Chromium ``--print-to-pdf``;
* :mod:`.weekly` — one report per bridge per week into a folder, and a notice to its owner.
"""
