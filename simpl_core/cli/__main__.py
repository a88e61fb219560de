import sys

from simpl_core.cli import main

sys.exit(main())
