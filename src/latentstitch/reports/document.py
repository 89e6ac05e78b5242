"""The Markdown documents of a report: ``report.md`` (everything, linked) and ``comparison.md``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import pandas as pd

from latentstitch.reports.markdown import markdown_table
from latentstitch.reports.tables import ReportTable, format_cell


@dataclass
class ReportHeader:
    """Who made the numbers: the suite, provenance of the results, and how it departs from the paper.

    ``setup`` has one row per dataset (our dataset, the paper's, data, encoders, decoders);
    ``differences`` are plain sentences (e.g. which encoders are not the paper's).
    """

    suite: str
    result_revisions: Sequence[str]
    report_revision: str
    config_hashes: Sequence[str] = ()
    versions: dict[str, str] = field(default_factory=dict)
    note: str | None = None
    differences: Sequence[str] = ()
    setup: pd.DataFrame | None = None


@dataclass(frozen=True)
class FigureEntry:
    title: str
    path: str  # relative to the report directory


def _differences(header: ReportHeader) -> list[str]:
    lines = ["## How this differs from the paper", ""]
    if header.note:
        lines += [header.note.strip(), ""]
    lines += [f"- {sentence}" for sentence in header.differences]
    if header.differences:
        lines.append("")
    if header.setup is not None and not header.setup.empty:
        lines += [markdown_table(header.setup, index=False)]
    return lines


def comparison_layout(comparison: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """The comparison as printed: ours "mean ± std", the paper's as printed, the difference."""
    return pd.DataFrame(
        {
            "dataset": comparison["dataset"],
            "paper dataset": comparison["paper_dataset"],
            "method": comparison["method"],
            "metric": comparison["metric"],
            "anchors": [str(int(a)) if a > 0 else "–" for a in comparison["anchors"]],
            "paper anchors": [str(int(a)) if not pd.isna(a) else "–" for a in comparison["paper_anchors"]],
            "ours": [format_cell(m, s, digits) for m, s in zip(comparison["ours_mean"], comparison["ours_std"])],
            "paper": [format_cell(m, s, 2) for m, s in zip(comparison["paper_mean"], comparison["paper_std"])],
            "ours - paper": [f"{d:+.{digits}f}" for d in comparison["difference"]],
        }
    )


def _rankings_layout(rankings: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "paper table": rankings["paper_table"],
            "dataset": rankings["dataset"],
            "metric": rankings["metric"],
            "ours": rankings["ours"],
            "paper": rankings["paper"],
            "Kendall tau": rankings["kendall_tau"],
            "ours, all methods": rankings["ours_all_methods"],
        }
    )


def _comparison_sections(comparison: pd.DataFrame, rankings: pd.DataFrame, digits: int, level: str) -> list[str]:
    lines = []
    if comparison.empty:
        lines += [
            "No cell of ours has a counterpart in the paper (no dataset maps to a paper dataset; "
            "see `suite.report.paper_datasets`).",
            "",
        ]
    for number, part in comparison.groupby("paper_table", sort=True):
        table = part["table"].iloc[0]
        lines += [
            f"{level} Paper Table {number} vs `{table}`",
            "",
            markdown_table(comparison_layout(part, digits), index=False),
        ]
    lines += [
        f"{level} Method rankings",
        "",
        "Best to worst over the translation methods both report, values rounded to two decimals "
        "as the paper prints them (`=` is a tie); Kendall's tau-b between the two orders "
        "(1: same order, -1: reversed, – : undefined); the last column ranks every method we ran.",
        "",
    ]
    lines += [
        markdown_table(_rankings_layout(rankings), index=False) if not rankings.empty else "No ranking to compare.\n"
    ]
    return lines


def render_comparison(header: ReportHeader, comparison: pd.DataFrame, rankings: pd.DataFrame, digits: int = 3) -> str:
    """``comparison.md``: every cell whose setting the paper reports, ours next to the paper's."""
    lines = [
        f"# Ours vs the paper: suite `{header.suite}`",
        "",
        "Ours: mean ± std over (encoder, decoder) pairs × seeds. Paper: as printed "
        "(Tables 3, 4, 8 print no std). Difference: ours - paper.",
        "",
    ]
    lines += _differences(header)
    lines += _comparison_sections(comparison, rankings, digits, "##")
    return "\n".join(lines)


def render_report(
    header: ReportHeader,
    tables: Sequence[tuple[ReportTable, dict[str, str]]],
    comparison: pd.DataFrame,
    rankings: pd.DataFrame,
    figures: Sequence[FigureEntry],
    *,
    links: dict[str, str],
    digits: int = 3,
) -> str:
    """``report.md``: the header, every table (inline, with links to its files), the
    comparison with the paper, the rankings and every figure. ``tables`` pairs each table with
    its files by format (``{"Markdown": "tables/x.md", ...}``); ``links`` names other files."""
    lines = [f"# latentstitch report: suite `{header.suite}`", ""]
    lines.append(
        f"- Results computed at git revision: {', '.join(f'`{r}`' for r in header.result_revisions) or 'unknown'}"
    )
    lines.append(f"- Report generated at git revision: `{header.report_revision}`")
    if header.config_hashes:
        lines.append(f"- Config hash: {', '.join(f'`{h}`' for h in header.config_hashes)}")
    if header.versions:
        lines.append("- Versions: " + ", ".join(f"{k} {v}" for k, v in header.versions.items()))
    lines.append("- Files: " + " · ".join(f"[{name}]({path})" for name, path in links.items()))
    lines.append("")
    lines += _differences(header)
    lines += ["## Tables", ""]
    if tables:
        ddof = tables[0][0].ddof
        lines += [
            f"Each cell: mean ± std (ddof={ddof}) over every (encoder, decoder) pair × seed, as the "
            "paper aggregates; No Stitching pools each decoder on its own encoder. `anchors` is the "
            "number of parallel anchors of the translated cells; – : not run or not possible "
            "(absolute needs equal dimensions).",
            "",
        ]
    else:
        lines += ["No table: the stitch results hold no classification or reconstruction pair.", ""]
    for table, files in tables:
        lines += [f"### {table.spec.title}", "", " · ".join(f"[{fmt}]({path})" for fmt, path in files.items()), ""]
        if table.cells.empty:
            lines += ["No results for this table.", ""]
            continue
        lines += [markdown_table(table.layout(digits))]
        if table.spec.task == "reconstruction":
            counts = table.cells[table.cells["anchors"] > 0].groupby("dataset")["anchors"].max()
            lines += ["Anchors: " + ", ".join(f"{d} {int(a)}" for d, a in counts.items()), ""]
    lines += [
        "## Comparison with the paper",
        "",
        f"Also in [comparison.md]({links.get('comparison', 'comparison.md')}).",
        "",
    ]
    if header.differences:
        lines += ["**Read the differences above first: " + " ".join(header.differences) + "**", ""]
    lines += _comparison_sections(comparison, rankings, digits, "###")
    lines += ["## Figures", ""]
    if not figures:
        lines += ["No figure: the results allow none (see the report stage's docstring).", ""]
    for figure in figures:
        lines += [f"### {figure.title}", "", f"![{figure.title}]({figure.path})", ""]
    return "\n".join(lines)
