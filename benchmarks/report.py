"""The report of a big run: page size, time to write it, time for Chromium to load it, and
screenshots (desktop and phone width) to look at.

    python benchmarks/report.py                      # a made-up run: 40 files, 300 checklist leaves
    python benchmarks/report.py --run runs/my-paper  # a real run directory
    python benchmarks/report.py --shots /tmp/shots   # where the screenshots go

Targets (issue 15): a run with 40 files and 300 rubric leaves gives a page under a few MB that
opens in under 2 s. Needs Chromium and `pip install playwright` for the load time and shots.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.report.runfixture


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, help="a run directory (default: a made-up one)")
    parser.add_argument("--files", type=int, default=40)
    parser.add_argument("--leaves", type=int, default=300)
    parser.add_argument("--shots", type=Path, default=Path(tempfile.gettempdir()) / "papercoder-report-shots")
    args = parser.parse_args(argv)

    from papercoder.report import write_report

    run = args.run
    if run is None:
        from tests.report.runfixture import make_run  # the tests' run builder

        run = make_run(Path(tempfile.mkdtemp()) / "run", files=args.files, leaves=args.leaves)
    started = time.perf_counter()
    page = write_report(run, Path(tempfile.mkdtemp()) / "report.html")
    written = time.perf_counter() - started
    print(f"report: {page}  {page.stat().st_size / 1e6:.2f} MB, written in {written:.2f} s")

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("no playwright: pip install playwright to time the load and take screenshots")
        return 0
    if chromium is None:
        print("no Chromium: apt-get install chromium to time the load and take screenshots")
        return 0
    args.shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        for name, width in (("desktop", 1280), ("phone", 390)):
            context = browser.new_context(viewport={"width": width, "height": 900}, offline=True)
            tab = context.new_page()
            started = time.perf_counter()
            tab.goto(page.resolve().as_uri(), wait_until="load")
            loaded = time.perf_counter() - started
            overflow = tab.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
            shot = args.shots / f"report-{name}.png"
            tab.screenshot(path=str(shot), full_page=False)
            tab.locator("#diagrams").scroll_into_view_if_needed()
            tab.screenshot(path=str(args.shots / f"report-{name}-diagrams.png"))
            print(f"{name:8} {width}px: loaded in {loaded:.2f} s, horizontal overflow {overflow}px, screenshot {shot}")
            context.close()
        browser.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
