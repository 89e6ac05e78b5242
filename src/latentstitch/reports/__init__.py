"""Tables, the comparison with the paper, and figures, rebuilt from result files on disk.

    results = load_stitch_results(["results/offline_quick/stitch/bbc_news.csv"])
    tables = build_tables(results, anchors=1000)          # paper layouts, mean ± std
    comparison = compare_with_paper(tables, load_paper_values(), {"mnist_5k": "mnist"})

Figures live in ``latentstitch.reports.figures`` (matplotlib); the report stage
(``latentstitch.stages.report``) writes all of it under ``{results_dir}/report/``.
"""

from latentstitch.reports.compare import compare_with_paper, method_rankings, paper_dataset, ranking
from latentstitch.reports.paper import load_paper_table, load_paper_values
from latentstitch.reports.tables import (
    ReportTable,
    TableSpec,
    aggregate,
    build_table,
    build_tables,
    load_stitch_results,
    table_specs,
    validate_results,
)

__all__ = [
    "ReportTable",
    "TableSpec",
    "aggregate",
    "build_table",
    "build_tables",
    "compare_with_paper",
    "load_paper_table",
    "load_paper_values",
    "load_stitch_results",
    "method_rankings",
    "paper_dataset",
    "ranking",
    "table_specs",
    "validate_results",
]
