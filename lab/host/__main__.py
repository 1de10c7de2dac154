import sys

from lab.host.prepare import main

sys.exit(main())
