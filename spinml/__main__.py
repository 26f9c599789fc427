import sys

from spinml.cli import main

sys.exit(main())
