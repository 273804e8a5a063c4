import sys

from lingxi.cli.main import main

sys.exit(main())
