"""CNN Workbench entry point.

``python main.py`` opens the desktop app; ``python main.py <command> ...`` runs headless
(``train``, ``evaluate``, ``predict``, ``datasets``, ``models``, ``runs``; see ``--help``).
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and not argv[0].startswith("-psn"):  # macOS may pass -psn_... to app bundles
        from core.cli import run_cli

        return run_cli(argv)
    from gui.platform_check import startup_problem

    problem = startup_problem()  # before Qt is imported: Qt aborts without naming what is missing
    if problem:
        print(problem, file=sys.stderr)
        return 1
    from gui.app import run_app

    return run_app(sys.argv[:1])


if __name__ == "__main__":
    sys.exit(main())
