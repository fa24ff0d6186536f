import sys

from bindscape.cli import main

sys.exit(main())
