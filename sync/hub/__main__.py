"""``python -m sync.hub``: the reference Hub without the device's command line around it."""

from sync.hub.cli import main
from sync.hub.options import build_parser

raise SystemExit(main(build_parser().parse_args()))
