"""The command line: ``python -m unlearn_core.bench`` (2-D and image benches, the sweep) and
``python -m unlearn_core.pretrain``. The library below it never imports this package."""
