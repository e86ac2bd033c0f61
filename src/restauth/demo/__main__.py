import sys

from restauth.cli import main

sys.exit(main(["demo", *sys.argv[1:]]))
