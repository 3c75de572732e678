"""axe-core (vendored in tests/support/vendor, MPL-2.0) run on a page.

The console's CSP (``script-src 'self'``) refuses a script tag the test adds
(Playwright's ``add_script_tag`` inserts inline code), but not what the
test evaluates through the DevTools protocol: axe is evaluated into the page
as it is, under the page's real policy, so no context needs ``bypass_csp``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import Page

AXE = Path(__file__).parent / "vendor" / "axe.min.js"
SERIOUS = ("serious", "critical")

RUN = """async () => {
  const { violations } = await axe.run(document, { resultTypes: ["violations"] });
  return violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 5).map((n) => n.target.join(" ")) }));
}"""


def serious_violations(page: Page) -> list[dict[str, Any]]:
    """The serious and critical WCAG violations axe finds on what ``page``
    shows now (hidden elements are not checked)."""
    if not page.evaluate("typeof axe !== 'undefined'"):
        page.evaluate(f"() => {{ {AXE.read_text(encoding='utf-8')} }}")
    return [v for v in page.evaluate(RUN) if v["impact"] in SERIOUS]
