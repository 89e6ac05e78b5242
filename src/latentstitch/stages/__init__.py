"""One module per DVC stage: `run(cfg) -> summary dict`, plus a thin CLI `main()`."""
