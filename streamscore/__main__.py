import sys

from streamscore.cli import main

sys.exit(main())
