"""Pruning a report page's stylesheet (asi_lib.stylesheet): only rules that cannot match go.

The browser test (tests/browser/test_report_pdf.py) checks a real report renders pixel for pixel
the same; these check the rule by hand-worked cases.
"""
from asi_lib.stylesheet import page_classes, prune_css, prune_page


def kept(css, classes):
    return [line.strip() for line in prune_css(css, classes).splitlines() if line.strip()]


def test_a_rule_goes_only_when_every_selector_needs_a_missing_class():
    css = ".a { x: 1 } .z { x: 2 } .z, .a { x: 3 } .a.z { x: 4 } p { x: 5 } :root { --v: 1 }"
    assert kept(css, {"a"}) == [".a { x: 1 }", ".z, .a { x: 3 }", "p { x: 5 }", ":root { --v: 1 }"]


def test_classes_in_parentheses_are_not_required():
    css = "p:not(.z) { x: 1 } :is(.z, .y) p { x: 2 } div:has(.z) { x: 3 } .q:not(.a) { x: 4 }"
    assert kept(css, {"a"}) == ["p:not(.z) { x: 1 }", ":is(.z, .y) p { x: 2 }", "div:has(.z) { x: 3 }"]


def test_media_blocks_are_pruned_inside_and_other_at_rules_kept_whole():
    css = ("@media print { .a { x: 1 } .z { x: 2 } } @media screen { .z { x: 3 } } "
           "@font-face { font-family: F; src: url(f.woff) } @keyframes k { from { x: 0 } to { x: 1 } }")
    out = prune_css(css, {"a"})
    assert ".a { x: 1 }" in out and ".z" not in out and "@media screen" not in out
    assert "@font-face { font-family: F; src: url(f.woff) }" in out and "@keyframes k" in out


def test_an_escaped_selector_and_a_comment_are_handled_safely():
    css = "/* .a { x: 0 } */ .lm-mod-\\:hover { x: 1 } .z { x: 2 }"
    assert kept(css, set()) == [".lm-mod-\\:hover { x: 1 }"]


def test_page_classes_and_small_blocks_kept_as_written():
    page = ('<html><head><style>.kit { x: 1 } .z { x: 2 }</style><style>' + ".z { x: 3 }\n" * 3000 +
            ".a { x: 4 }</style></head><body class='a b'><p class=\"c\">.z</p></body></html>")
    assert page_classes(page) == {"a", "b", "c"}
    out = prune_page(page)
    assert "<style>.kit { x: 1 } .z { x: 2 }</style>" in out          # the kit's own, small: untouched
    assert ".z { x: 3 }" not in out and ".a { x: 4 }" in out and "<p class=\"c\">.z</p>" in out
