"""Tables, the comparison with the paper, and figures, rebuilt from result files on disk.

    from latentstitch.reports.compare import compare_with_paper
    from latentstitch.reports.paper import load_paper_values
    from latentstitch.reports.tables import build_tables, load_stitch_results

    results = load_stitch_results(["results/offline_quick/stitch/bbc_news.csv"])
    tables = build_tables(results, anchors=1000)          # paper layouts, mean ± std
    comparison = compare_with_paper(tables, load_paper_values(), {"mnist_5k": "mnist"})

Figures live in ``latentstitch.reports.figures`` (matplotlib); the report stage
(``latentstitch.stages.report``) writes all of it under ``{results_dir}/report/``.

The package itself imports none of its modules: every stage imports ``reports.tracked`` (its
wandb view), and a stage's DVC deps are what it imports, so the tables (which read the method
list of ``latentstitch.translate``) stay deps of the report stage only.
"""
