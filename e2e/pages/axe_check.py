"""axe-core over the page the browser shows, for the page tests.

The pages' Content-Security-Policy allows no script at all (`default-src 'none'`), so
axe-selenium-python's own `run` timed out. Instead the text of the axe.min.js it ships is evaluated
with WebDriver's execute_script, which the page's CSP does not govern (no <script> element, no
Page.setBypassCSP needed), and `axe.run` is called through execute_async_script.

The rules: WCAG 2.0 and 2.1 A and AA, and axe's best practices. axe-selenium-python 2.1.6 ships
axe-core 3.1.1, which has no rule tagged `wcag21a` (axe refuses unknown tags), so tags it does not
know are left out, and which reports <dt>/<dd> grouped in a <div> inside a <dl> as `dlitem`
violations, though HTML and the GOV.UK summary list allow exactly that (axe-core issue 1265, fixed
in 3.2 by pull request 1284): for axe-core before 3.2 that check is replaced by the fixed one.
AXE_CORE_JS may name another axe.min.js (a newer axe-core) to run instead.
"""
from __future__ import annotations

import os
from pathlib import Path

import axe_selenium_python

AXE_JS = Path(os.environ.get("AXE_CORE_JS") or
              Path(axe_selenium_python.__file__).resolve().parent / "node_modules" / "axe-core" / "axe.min.js")
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
_source: str | None = None

# axe-core 3.2's dlitem check (pull request 1284): a <dt> or <dd> must be in a <dl>, directly or in a
# <div> group, and that <dl> may have no role other than list.
_DLITEM_FIX = """
const [major, minor] = axe.version.split('.').map(Number);
if (major < 3 || (major === 3 && minor < 2)) {
  axe.configure({checks: [{id: 'dlitem', evaluate: function (node) {
    let parent = axe.commons.dom.getComposedParent(node);
    if (parent && parent.nodeName.toUpperCase() === 'DIV' && !parent.getAttribute('role')) {
      parent = axe.commons.dom.getComposedParent(parent);
    }
    if (!parent || parent.nodeName.toUpperCase() !== 'DL') { return false; }
    const role = (parent.getAttribute('role') || '').toLowerCase();
    return !role || !axe.commons.aria.isValidRole(role) || role === 'list';
  }}]});
}
"""

_RUN = """
const done = arguments[arguments.length - 1];
const known = new Set([].concat(...axe.getRules().map(r => r.tags)));
axe.run(document, {runOnly: {type: 'tag', values: arguments[0].filter(t => known.has(t))}})
  .then(results => done({violations: results.violations.map(v => ({
      id: v.id, impact: v.impact, help: v.help,
      nodes: v.nodes.map(n => n.target.join(' '))}))}))
  .catch(e => done({error: String(e && e.stack || e)}));
"""


def violations(browser) -> list[dict]:
    """axe's violations on the current page: [{id, impact, help, nodes: [css target, ...]}]."""
    global _source
    if _source is None:
        _source = AXE_JS.read_text(encoding="utf-8")
    if not browser.execute_script("return typeof window.axe === 'object'"):
        browser.execute_script(_source)
        assert browser.execute_script("return typeof window.axe === 'object' && axe.version"), \
            f"axe-core ({AXE_JS}) did not load into {browser.current_url}"
        browser.execute_script(_DLITEM_FIX)
    browser.set_script_timeout(30)
    result = browser.execute_async_script(_RUN, TAGS)
    assert "error" not in result, f"axe.run failed on {browser.current_url}: {result['error']}"
    return result["violations"]


def assert_accessible(browser, label: str) -> None:
    """Fails listing each axe violation (id, impact, help, the nodes' targets) on the current page."""
    found = violations(browser)
    if found:
        lines = [f"axe found {len(found)} violation(s) on {label} ({browser.current_url}):"]
        for v in found:
            lines.append(f"  {v['id']} [{v['impact']}]: {v['help']}")
            lines += [f"      {target}" for target in v["nodes"]]
        raise AssertionError("\n".join(lines))
