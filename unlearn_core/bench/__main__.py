import sys

from unlearn_core.bench.cli import main

sys.exit(main())
