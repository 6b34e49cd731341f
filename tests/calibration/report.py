"""The calibration's tables: false aborts and power per AnalysisRun, per scenario and template."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

from tests.calibration.grid import Scenario
from tests.calibration.runs import Tally

START, END = "<!-- calibration:start -->", "<!-- calibration:end -->"
SHORT_RUN = 5  # looks of the former templates (count 5), read off the same runs


@dataclass(frozen=True)
class Result:
    scenario: Scenario
    tallies: dict[str, Tally]

    def line(self) -> str:
        card = self.tallies["scorecard"]
        return (
            f"{self.scenario.label}: scorecard failed {card.failed():.1%} (first 5 looks "
            f"{card.failed(SHORT_RUN):.1%}) passed {card.passed():.1%}; latency failed "
            f"{self.tallies['latency'].failed():.1%}; errors failed {self.tallies['errors'].failed():.1%}"
        )


def percent(share: float) -> str:
    return f"{share * 100:.1f}"


def _row(result: Result) -> str:
    t, card = result.scenario.traffic, result.tallies["scorecard"]
    sampled = (
        "none"
        if t.sample_rate == 1
        else f"1/{t.sample_rate} " + ("stated" if result.scenario.stated else "not stated")
    )
    cells = [
        result.scenario.effect,
        f"{t.canary_per_minute:,g} / {t.baseline_per_minute:,g}",
        sampled,
        "swings" if t.swings else "steady",
        percent(card.failed()),
        percent(card.failed(SHORT_RUN)),
        percent(card.passed()),
        percent(result.tallies["latency"].failed()),
        percent(result.tallies["errors"].failed()),
    ]
    return "| " + " | ".join(cells) + " |"


HEADER = (
    "| scenario | canary / stable events a minute | sampling | load | scorecard: failed % | "
    "failed in 5 looks % | passed % | latency alone: failed % | error rate alone: failed % |\n"
    "|---|---|---|---|---|---|---|---|---|"
)


def _worst(results: list[Result], template: str) -> tuple[float, str]:
    worst = max(results, key=lambda r: r.tallies[template].failed())
    return worst.tallies[template].failed(), worst.scenario.label


def tables(results: list[Result], seed: int, seconds: float, workers: int = 1) -> str:
    null = [r for r in results if r.scenario.effect == "identical"]
    power = [r for r in results if r.scenario.effect != "identical"]
    runs = sum(r.scenario.runs for r in results)
    machine = f"load average {os.getloadavg()[0]:.1f} at the end" if hasattr(os, "getloadavg") else ""
    lines = [
        f"Seed {seed}; {len(results)} scenarios, {runs:,} AnalysisRuns per template; "
        f"{seconds / 60:.1f} minutes with {workers} process{'es' if workers > 1 else ''} ({machine}).",
        "",
    ]
    if null:
        n = min(r.scenario.runs for r in null)
        error = 2 * math.sqrt(0.02 * 0.98 / n)
        lines.append(
            f"**Identical versions** ({n:,} runs each; two Monte-Carlo standard errors at 2 %: "
            f"+-{error * 100:.1f} points). Highest false-abort rate per template:"
        )
        for template in ("scorecard", "latency", "errors"):
            share, where = _worst(null, template)
            lines.append(f"- {template}: {percent(share)} % ({where})")
        lines += ["", HEADER, *(_row(r) for r in null), ""]
    if power:
        n = min(r.scenario.runs for r in power)
        lines.append(
            f"**Regressions** ({n:,} runs each; +-{2 * math.sqrt(0.9 * 0.1 / n) * 100:.1f} points at 90 %):"
        )
        lines += ["", HEADER, *(_row(r) for r in power), ""]
    return "\n".join(lines)


def write_into_docs(page: Path, text: str, markers: tuple[str, str] = (START, END)) -> None:
    start, end = markers
    content = page.read_text()
    if start not in content or end not in content:
        raise SystemExit(f"{page} has no {start} ... {end} section to write into")
    head, rest = content.split(start, 1)
    _, tail = rest.split(end, 1)
    page.write_text(f"{head}{start}\n{text}\n{end}{tail}")
