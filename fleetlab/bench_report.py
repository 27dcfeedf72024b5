"""One benchmark scenario's result, and the table `manage.py bench` prints."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Result:
    """A figure against its floor, measured in the same run, and the target for their ratio.

    `met` is None where the scenario's target is not set for this database.
    """

    scenario: str
    figure: str
    floor: str
    ratio: str
    target: str
    met: bool | None
    details: list[str] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        return {True: "met", False: "NOT MET", None: "-"}[self.met]


COLUMNS = ("scenario", "figure", "floor", "ratio", "target", "verdict")


def table(results: list[Result]) -> list[str]:
    rows = [COLUMNS] + [
        (r.scenario, r.figure, r.floor, r.ratio, r.target, r.verdict) for r in results
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    for result in results:
        lines += [f"{result.scenario}: {detail}" for detail in result.details]
    return lines


def ratio(value: float) -> str:
    return f"{value:.2f}x"


def speedup(value: float) -> str:
    return f"x{value:,.0f}" if value >= 10 else f"x{value:.2f}"
