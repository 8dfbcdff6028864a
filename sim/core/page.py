"""Pieces shared by every self-contained HTML report page (the run report and a strategy's own):
JSON that is safe inside a <script> element, and the script that keeps the charts' time axes in step."""

from __future__ import annotations

import json
from typing import Any


def script_json(obj: Any) -> str:
    # Inside <script>, "</" could end the element early (a reason string is free text).
    return json.dumps(obj, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")


#: Keeps the x axes of every drawn chart (`drawn`, with `c0.range` the first chart's range) in step:
#: zooming or panning one moves the others. Shared by the amt and basis reports.
SYNC_AXES_JS = """
  var syncing = false;
  drawn.forEach(function (src) {
    src.on('plotly_relayout', function (ev) {
      if (syncing) { return; }
      var upd = null;
      if (ev['xaxis.range[0]'] !== undefined) { upd = {'xaxis.range': [ev['xaxis.range[0]'], ev['xaxis.range[1]']]}; }
      else if (ev['xaxis.range']) { upd = {'xaxis.range': ev['xaxis.range']}; }
      else if (ev['xaxis.autorange'] && c0.range) { upd = {'xaxis.range': c0.range}; }
      if (!upd) { return; }
      syncing = true;
      Promise.all(drawn.filter(function (el) { return el !== src; })
        .map(function (el) { return Plotly.relayout(el, upd); }))
        .then(function () { syncing = false; }, function () { syncing = false; });
    });
"""
