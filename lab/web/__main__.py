import sys

from lab.web.server import main

sys.exit(main())
