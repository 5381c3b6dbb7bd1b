"""An automated accessibility check of a page in Chromium: axe-core, vendored for
the tests (tests/vendor/axe-core), injected into the page as it is."""

from __future__ import annotations

from pathlib import Path

AXE = Path(__file__).resolve().parent.parent / "vendor" / "axe-core" / "axe.min.js"
SERIOUS = ("serious", "critical")


def axe_violations(page) -> list[str]:
    """The serious and critical violations axe finds on the page, one line each.

    The page's context must bypass the CSP (``bypass_csp=True``): the UI's policy
    rightly refuses a script the test injects."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    results = page.evaluate(
        """() => axe.run(document, {resultTypes: ['violations']}).then((r) =>
            r.violations.map((v) => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' '))})))"""
    )
    return [
        f"{found['impact']}: {found['id']} ({found['help']}) at {found['nodes']}"
        for found in results
        if found["impact"] in SERIOUS
    ]
