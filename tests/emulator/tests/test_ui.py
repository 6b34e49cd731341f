"""The result pages the evaluator's query links open: the snapshot chart draws one line per
breakdown group, each left to right in time (not one line zig-zagging between groups)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from honeycomb_emulator.demo import VARIANTS

from .conftest import Honeycomb
from .test_api_queries import P99_AND_ERRORS

pytestmark = pytest.mark.servers

SVG = "{http://www.w3.org/2000/svg}"


def snapshot_lines(honeycomb: Honeycomb, spec: dict[str, object]) -> dict[str, list[float]]:
    """Run the query; the x coordinates of each line of its snapshot, by the line's title."""
    query_id = honeycomb.create_query("checkout", spec)
    created = honeycomb.call(
        "POST", "/1/query_results/checkout", expect=201, json_body={"query_id": query_id}
    ).json()
    honeycomb.poll("checkout", created["id"])
    image = honeycomb.client.get(created["links"]["graph_image_url"])
    assert image.status_code == 200 and image.headers["content-type"] == "image/svg+xml"
    lines = {}
    for polyline in ET.fromstring(image.text).iter(f"{SVG}polyline"):
        title = polyline.find(f"{SVG}title")
        assert title is not None and title.text
        lines[title.text] = [float(point.split(",")[0]) for point in polyline.attrib["points"].split()]
    return lines


def test_snapshot_draws_one_line_per_breakdown_group(honeycomb: Honeycomb) -> None:
    lines = snapshot_lines(honeycomb, P99_AND_ERRORS)
    assert set(lines) == {f"rollouts_pod_template_hash={variant.pod_template_hash}" for variant in VARIANTS}
    for xs in lines.values():
        assert len(xs) > 1 and xs == sorted(set(xs)), "each line runs left to right, once per bucket"


def test_snapshot_without_breakdowns_is_one_line(honeycomb: Honeycomb) -> None:
    lines = snapshot_lines(honeycomb, {"calculations": [{"op": "COUNT"}], "time_range": 1800})
    assert list(lines) == ["COUNT"]
