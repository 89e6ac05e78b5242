"""The report's "Appendix experiments" section, from the appendix stage's outputs on disk
(``{results_dir}/appendix/summary.json`` and its figures)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from latentstitch.io import atomic_path


def appendix_section(appendix_dir: str | Path, report_dir: str | Path) -> str:
    """Markdown for the appendix experiments: one line per figure (does the paper's claim hold
    in this run, and the numbers that decide it), then each figure, copied into
    ``{report_dir}/figures/appendix_{figure}.png``. Empty when the appendix stage wrote no
    ``summary.json`` in ``appendix_dir``."""
    appendix_dir, report_dir = Path(appendix_dir), Path(report_dir)
    path = appendix_dir / "summary.json"
    if not path.exists():
        return ""
    try:
        figures = json.loads(path.read_text())["figures"]
    except (json.JSONDecodeError, KeyError) as err:
        raise ValueError(f"{path} is not an appendix summary ({err}): re-run the appendix stage") from None
    lines = ["", "## Appendix experiments", ""]
    if not figures:
        return "\n".join(lines + ["No appendix experiment is configured for this suite (suite.appendix).", ""])
    entries = sorted(figures.items(), key=lambda item: item[1]["paper_figure"])
    lines += [
        "Whether each claim of the paper's appendix holds in our run, decided by the numbers on the line "
        "(details and data: `appendix/{figure}.json|csv` in the results folder).",
        "",
    ]
    lines += [f"- {entry['line']}" for _, entry in entries]
    lines.append("")
    for figure, entry in entries:
        png = appendix_dir / f"{figure}.png"
        if not png.exists():
            raise FileNotFoundError(f"{png} is missing though {path} lists {figure}: re-run the appendix stage")
        name = f"figures/appendix_{figure}.png"
        with atomic_path(report_dir / name) as tmp:
            shutil.copyfile(png, tmp)
        title = f"Figure {entry['paper_figure']} analog: {entry['title']} ({entry['what']})"
        lines += [f"### {title}", "", f"Paper: {entry['paper_claim']}.", "", f"![{title}]({name})", ""]
    return "\n".join(lines)
