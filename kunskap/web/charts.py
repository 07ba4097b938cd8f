"""Server-rendered charts: the geometry of a bar chart and of the county map of Sweden, as plain
values that templates/_charts.html draws as inline SVG (no JavaScript, no inline style: colours are
presentation attributes, checked for contrast in the tests)."""

from __future__ import annotations

import json
import math
from functools import lru_cache
from importlib import resources

# The map: counties filled by count in steps, light to dark, with dark borders. Every fill has at
# least 3:1 contrast against the border (WCAG 1.4.11), so each county's outline stays visible.
MAP_BORDER = "#1d2327"
MAP_STEPS = (   # (lowest count of the step, fill, legend label)
    (0, "#f4f6f1", "0"),
    (1, "#c6e4b8", "1–2"),
    (3, "#8cc67a", "3–5"),
    (6, "#57a545", "6–10"),
    (11, "#3d8b2e", "fler än 10"),
)
BAR_FILL = "#1f5e3a"   # the accent colour: 7.9:1 against the page background


def relative_luminance(colour: str) -> float:
    channels = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    high, low = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


@lru_cache(maxsize=1)
def counties_geometry() -> dict:
    """sweden-counties.json: viewBox, attribution and the 21 counties' SVG paths."""
    return json.loads(resources.files("kunskap.data").joinpath("sweden-counties.json").read_text("utf-8"))


def step_of(count: int) -> int:
    index = 0
    for i, (low, _, _) in enumerate(MAP_STEPS):
        if count >= low:
            index = i
    return index


def county_map(counts: dict[str, int], link, title: str) -> dict:
    """The map's counties with their count, fill and link (`link(county)`), in alphabetical order of
    the county name, which is also the Tab order and the order of the table beside the map."""
    geometry = counties_geometry()
    counties = []
    for location in sorted(geometry["locations"], key=lambda loc: loc["county"]):
        count = counts.get(location["county"], 0)
        step = step_of(count)
        counties.append({"county": location["county"], "path": location["path"], "count": count,
                         "fill": MAP_STEPS[step][1], "href": link(location["county"]), "step": step})
    return {"title": title, "viewbox": geometry["viewBox"], "counties": counties, "border": MAP_BORDER,
            "legend": [{"fill": fill, "label": label} for _, fill, label in MAP_STEPS],
            "total": sum(c["count"] for c in counties)}


# Room per x-axis label, in viewBox units: a four-digit year at the desktop font (12) and at the
# phone font (22; the chart is drawn at about half size on a 360 px screen, see kunskap.css).
LABEL_ROOM, LABEL_ROOM_SMALL = 34, 64


def label_strides(count: int, plot_w: float) -> tuple[int, int]:
    """Every how many bars a label is drawn (all screens) and kept on a small screen (a multiple)."""
    wide = max(1, math.ceil(LABEL_ROOM * count / plot_w))
    small = max(1, math.ceil(LABEL_ROOM_SMALL * count / plot_w))
    return wide, wide * math.ceil(small / wide)


def bar_chart(values: list[tuple[str, int]], link, title: str, x_label: str, y_label: str,
              unit: str = "exempel") -> dict:
    """A vertical bar chart: one bar per (label, count), `link(label)` for each (or `link` None:
    no links); y ticks at round steps. `unit` names what is counted, for screen readers. The
    margins leave room for the larger text a phone gets (kunskap.css)."""
    width, height = 640, 270
    left, right, top, bottom = 64, 12, 16, 74
    plot_w, plot_h = width - left - right, height - top - bottom
    top_value = max([c for _, c in values] + [1])
    step = next(s for s in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 10**9) if top_value / s <= 5)
    scale_max = -(-top_value // step) * step
    slot = plot_w / max(len(values), 1)
    bar_w = max(min(slot * 0.7, 48), 2)
    wide, small = label_strides(len(values), plot_w)
    bars = []
    for i, (label, count) in enumerate(values):
        h = plot_h * count / scale_max
        x = left + i * slot + (slot - bar_w) / 2
        bars.append({"label": str(label), "count": count, "href": link(label) if link else None, "x": round(x, 1),
                     "y": round(top + plot_h - h, 1), "w": round(bar_w, 1), "h": round(h, 1),
                     "cx": round(x + bar_w / 2, 1), "show_label": i % wide == 0, "minor": i % small != 0})
    ticks = [{"value": v, "y": round(top + plot_h - plot_h * v / scale_max, 1)}
             for v in range(0, scale_max + 1, step)]
    return {"title": title, "x_label": x_label, "y_label": y_label, "width": width, "height": height,
            "left": left, "top": top, "plot_w": plot_w, "plot_h": plot_h, "bottom_y": top + plot_h,
            "bars": bars, "ticks": ticks, "fill": BAR_FILL, "unit": unit}
