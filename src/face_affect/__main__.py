import sys

from face_affect.cli import main

sys.exit(main())
