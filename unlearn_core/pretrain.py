"""``python -m unlearn_core.pretrain``: the entry point; the command lives in ``unlearn_core.bench.pretrain``."""
import sys

from unlearn_core.bench.pretrain import main

if __name__ == "__main__":
    sys.exit(main())
