"""The map of Hà Nội's units as server-rendered SVG: no map service, no JavaScript.

The shipped `static/hanoi-units.json` holds one SVG path per unit, projected and
simplified once from the boundaries in ../shared/data (`hanoi-units.geojson`, derived
from thanglequoc/vietnamese-provinces-database, MIT: see static/LICENSE-data.txt).
Regenerate it with:

    python -m web.dashboard.map ../shared/data/hanoi-units.geojson web/dashboard/static/hanoi-units.json
"""

from __future__ import annotations

import functools
import json
import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

__all__ = [
    "MAP_FILE",
    "MapShape",
    "MapValue",
    "build_shapes",
    "colour_of",
    "load_shapes",
    "render_map",
]

MAP_FILE = Path(__file__).parent / "static" / "hanoi-units.json"
MAP_WIDTH = 1000.0  # SVG user units across the whole city
TOLERANCE = 0.6  # user units (≈45 m): finer than a pixel at any sensible zoom of a ward
# Sequential, colour-blind-safe bins (from light to dark), each with a text colour that
# keeps 4.5:1 contrast in the legend.
BINS: tuple[tuple[float, str], ...] = (
    (50.0, "#fde0c5"),
    (70.0, "#facba6"),
    (80.0, "#9ecae1"),
    (90.0, "#4292c6"),
    (101.0, "#08519c"),
)
NO_DATA = "#e8e8e8"
SUPPRESSED = "#bdbdbd"


@dataclass(frozen=True)
class MapShape:
    """One unit's outline: code, name and an SVG path in map units."""

    code: str
    name: str
    path: str
    box: tuple[float, float, float, float]  # min x, min y, max x, max y


@dataclass(frozen=True)
class MapValue:
    """What a unit shows: its index (None when suppressed or missing) and a tooltip."""

    index: float | None
    suppressed: bool
    label: str


def _simplify(points: list[tuple[float, float]], tolerance: float) -> list[tuple[float, float]]:
    """Douglas-Peucker on one ring (iterative: rings have thousands of points)."""
    if len(points) < 4:
        return points
    keep = [False] * len(points)
    keep[0] = keep[-1] = True
    stack = [(0, len(points) - 1)]
    while stack:
        first, last = stack.pop()
        (x1, y1), (x2, y2) = points[first], points[last]
        length = math.hypot(x2 - x1, y2 - y1)
        farthest, distance = first, 0.0
        for index in range(first + 1, last):
            x, y = points[index]
            across = abs((x2 - x1) * (y1 - y) - (x1 - x) * (y2 - y1))
            d = across / length if length else math.hypot(x - x1, y - y1)
            if d > distance:
                farthest, distance = index, d
        if distance > tolerance:
            keep[farthest] = True
            stack += [(first, farthest), (farthest, last)]
    return [point for point, kept in zip(points, keep, strict=True) if kept]


def build_shapes(geojson: Mapping[str, Any], tolerance: float = TOLERANCE) -> dict[str, Any]:
    """Projected, simplified SVG paths of the commune-level units of a GeoJSON collection."""
    features = [f for f in geojson["features"] if f["properties"].get("level") == "commune"]
    rings_of: list[tuple[dict[str, Any], list[list[list[float]]]]] = []
    for feature in features:
        geometry = feature["geometry"]
        polygons = (
            [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]
        )
        rings_of.append((feature["properties"], [ring for polygon in polygons for ring in polygon]))
    lons = [p[0] for _, rings in rings_of for ring in rings for p in ring]
    lats = [p[1] for _, rings in rings_of for ring in rings for p in ring]
    west, north = min(lons), max(lats)
    # Equirectangular at the city's mid latitude: true enough across 100 km.
    squeeze = math.cos(math.radians((min(lats) + north) / 2))
    scale = MAP_WIDTH / ((max(lons) - west) * squeeze)
    height = round((north - min(lats)) * scale, 1)
    units = []
    for properties, rings in rings_of:
        parts = []
        xs: list[float] = []
        ys: list[float] = []
        for ring in rings:
            projected = [
                ((lon - west) * squeeze * scale, (north - lat) * scale) for lon, lat in ring
            ]
            simple = _simplify(projected, tolerance)
            if len(simple) < 4:
                continue
            xs += [x for x, _ in simple]
            ys += [y for _, y in simple]
            parts.append("M" + "L".join(f"{x:.1f},{y:.1f}" for x, y in simple[:-1]) + "Z")
        units.append(
            {
                "code": properties["code"],
                "name": properties["full_name"],
                "path": "".join(parts),
                "box": [round(min(xs), 1), round(min(ys), 1), round(max(xs), 1), round(max(ys), 1)],
            }
        )
    return {"width": MAP_WIDTH, "height": height, "units": units}


@functools.cache
def load_shapes() -> tuple[tuple[float, float], tuple[MapShape, ...]]:
    """The shipped map: (width, height) and the unit shapes."""
    data = json.loads(MAP_FILE.read_text(encoding="utf-8"))
    shapes = tuple(
        MapShape(unit["code"], unit["name"], unit["path"], tuple(unit["box"]))
        for unit in data["units"]
    )
    return (float(data["width"]), float(data["height"])), shapes


def colour_of(value: MapValue | None) -> str:
    """The fill of a unit: a bin colour by index, or grey for suppressed / no data."""
    if value is None:
        return NO_DATA
    if value.suppressed or value.index is None:
        return SUPPRESSED
    for upper, colour in BINS:
        if value.index < upper:
            return colour
    return BINS[-1][1]


def _view_box(shapes: Sequence[MapShape], focus: set[str] | None, size: tuple[float, float]) -> str:
    chosen = [shape for shape in shapes if focus is None or shape.code in focus]
    if not chosen:
        return f"0 0 {size[0]:.0f} {size[1]:.0f}"
    x1 = min(shape.box[0] for shape in chosen)
    y1 = min(shape.box[1] for shape in chosen)
    x2 = max(shape.box[2] for shape in chosen)
    y2 = max(shape.box[3] for shape in chosen)
    extent = max(x2 - x1, y2 - y1)
    # Zoomed onto a few units, show their neighbours too, for orientation; the whole
    # city needs only a thin border.
    margin = extent * 0.6 + 10 if focus is not None else extent * 0.02
    return (
        f"{x1 - margin:.1f} {y1 - margin:.1f} {x2 - x1 + 2 * margin:.1f} {y2 - y1 + 2 * margin:.1f}"
    )


def render_map(
    values: Mapping[str, MapValue],
    *,
    title: str,
    focus: set[str] | None = None,
    link: str | None = None,
) -> str:
    """An accessible inline SVG of the units coloured by `values` (escaped: safe to embed).

    `focus` zooms onto those units (a viewer's ward and its neighbours); `link`, a format
    string with {code}, makes each unit with a value a keyboard-reachable link.
    """
    size, shapes = load_shapes()
    # An image's children are presentational to assistive technology, so a map whose units
    # are links is a group of links (axe-core: nested-interactive), and an image otherwise.
    role = "group" if link else "img"
    parts = [
        f'<svg class="map" viewBox="{_view_box(shapes, focus, size)}" role="{role}" '
        f'aria-labelledby="map-title" xmlns="http://www.w3.org/2000/svg">'
        f'<title id="map-title">{escape(title)}</title>'
    ]
    for shape in shapes:
        value = values.get(shape.code)
        tooltip = escape(f"{shape.name}: {value.label}" if value else shape.name)
        path = (
            f'<path d="{shape.path}" fill="{colour_of(value)}" data-code="{escape(shape.code)}">'
            f"<title>{tooltip}</title></path>"
        )
        if link and value is not None:
            href = escape(link.format(code=shape.code))
            path = f'<a href="{href}" aria-label="{tooltip}">{path}</a>'
        parts.append(path)
    parts.append("</svg>")
    return "".join(parts)


def main(argv: Sequence[str]) -> None:
    """Write the shipped map file from a GeoJSON file."""
    source, target = argv
    data = build_shapes(json.loads(Path(source).read_text(encoding="utf-8")))
    Path(target).write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n")
    print(f"{target}: {len(data['units'])} units, {Path(target).stat().st_size} bytes")


if __name__ == "__main__":
    main(sys.argv[1:])
