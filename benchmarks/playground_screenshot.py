"""python -m benchmarks.playground_screenshot CKPT [CKPT]: the README's picture of the playground.

Serves the checkpoints on a loopback port (in this process), opens the page in
headless Chromium through Playwright (the system's `chromium`, never a
downloaded browser), generates from one prompt side by side, hovers one token
so its candidates show, and saves a PNG (default: docs/playground.png).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

from wordgen.serve.app import create_app
from wordgen.serve.playground import Playground
from wordgen.serve.server import BackgroundServer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoints", nargs="+", help="one or two checkpoint folders")
    parser.add_argument("--out", default="docs/playground.png", help="PNG to write (default: docs/playground.png)")
    parser.add_argument("--prompt", default="ROMEO:\n", help="prompt (default: 'ROMEO:' and a new line)")
    parser.add_argument("--temperature", default="0.8", help="sampling temperature (default: 0.8)")
    parser.add_argument("--seed", default="3", help="seed (default: 3)")
    parser.add_argument("--max-tokens", default="60", help="tokens per column (default: 60)")
    parser.add_argument("--hover", type=int, default=9, help="which token of the first column to hover (default: 9)")
    args = parser.parse_args(argv)

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("no chromium on PATH: apt-get install -y chromium")
    playground = Playground.load(args.checkpoints, device="cpu")
    try:
        with BackgroundServer(create_app(playground)) as server, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium)
            page = browser.new_page(viewport={"width": 1280, "height": 860})
            page.goto(server.url + "/")
            page.wait_for_selector("#ckpt-a option", state="attached")
            page.fill("#prompt", args.prompt)
            page.fill("#temperature", args.temperature)
            page.dispatch_event("#temperature", "input")
            page.fill("#seed", args.seed)
            page.fill("#max-tokens", args.max_tokens)
            page.click("#generate")
            page.wait_for_function("!document.querySelector('#generate').disabled", timeout=120_000)
            page.locator(".column").first.locator(".tok:not(:empty)").nth(args.hover).hover()
            page.wait_for_selector("#tip:not([hidden])")
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=args.out)
            browser.close()
    finally:
        playground.close()
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
