"""``bayes-w2s cache info|clear``: where the neural feature cache lives, how big it is, empty it.

The cache (weak-model outputs, ceiling predictions, frozen-feature matrices as ``.npz`` files
keyed by content hashes; see :mod:`bayes_w2s.neural.cache`) lives in ``$BAYES_W2S_CACHE``, or
``~/.cache/bayes_w2s/neural``; ``--cache DIR`` names another one. ``clear`` needs ``--yes``
(entries take minutes to recompute).
"""

from __future__ import annotations

from bayes_w2s.harness.options import Parser

__all__ = ["main"]


def main(argv: list[str]) -> int:
    from bayes_w2s.neural.cache import cache_info, clear_cache

    parser = Parser(prog="bayes-w2s cache", description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=("info", "clear"), help="info: location, size, entries; clear: remove them")
    parser.add_argument("--cache", default=None, metavar="DIR",
                        help="cache folder (default: $BAYES_W2S_CACHE or ~/.cache/bayes_w2s/neural)")
    parser.add_argument("--yes", action="store_true", help="clear: really remove the entries")
    args = parser.parse_args(argv)
    if args.action == "info":
        print(cache_info(args.cache).describe())
        return 0
    info = cache_info(args.cache)
    if not args.yes:
        print(f"would remove {info.entries} entries ({info.bytes / 2**20:.1f} MB) from {info.root}; "
              "pass --yes to remove them")
        return 1
    clear_cache(args.cache)
    print(f"removed {info.entries} entries ({info.bytes / 2**20:.1f} MB) from {info.root}")
    return 0
