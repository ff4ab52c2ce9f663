import sys

from gradline.cli import main

sys.exit(main())
