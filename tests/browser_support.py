"""Headless Chromium for page tests: Debian's /usr/bin/chromium driven by Playwright (no browser is ever downloaded)."""

from __future__ import annotations

from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip

# per plotly chart: traces declared, trace groups drawn, and non-trivial SVG paths/heatmap images drawn
DRAWN_JS = """() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(gd => ({
  id: gd.id,
  traces: gd._fullData.length,
  groups: gd.querySelectorAll('.cartesianlayer .overplot g.trace, .cartesianlayer .overplot g.hm').length,
  shapes: Array.from(gd.querySelectorAll('.cartesianlayer .overplot path, .cartesianlayer .overplot image'))
    .filter(el => el.tagName === 'image' ? el.getAttribute('href') : (el.getAttribute('d') || '').length > 4).length,
}))"""


def launch(playwright):
    """A headless Chromium browser (fails clearly when Debian's chromium is missing)."""
    assert Path(CHROMIUM).exists(), "Debian chromium is required (scripts/system_deps.sh installs it)"
    return playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)


def open_report(browser, html: Path):
    """Opens a report page from disk; returns (page, JS errors, blocked non-file requests)."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    outside: list[str] = []
    page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
    page.on("console", lambda m: errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)

    def guard(route) -> None:
        if route.request.url.startswith(("file:", "data:", "blob:")):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", guard)
    page.goto(html.resolve().as_uri())
    page.wait_for_selector("body[data-charts-ready]", state="attached", timeout=30_000)
    return page, errors, outside


def platform_fonts(page, selector: str) -> list[dict]:
    """The fonts Chromium really used for a node's text (CSS.getPlatformFontsForNode)."""
    cdp = page.context.new_cdp_session(page)
    root = cdp.send("DOM.getDocument", {"depth": -1})["root"]["nodeId"]
    node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
    assert node, selector
    cdp.send("CSS.enable")
    return cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
