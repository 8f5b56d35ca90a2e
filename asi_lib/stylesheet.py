"""A report page's stylesheet without the rules that cannot apply to it.

nbconvert's ``lab`` template embeds all of JupyterLab's CSS (240 kB: code
editors, dialogs, widgets, menus) in every page. A report page has no script
and about 25 distinct classes, so most of those rules can never match one of
its elements; Chromium still parses them and tries them on every element
(0.13 s of 0.7 s per printed national report, measured). :func:`prune_page`
removes, from the page's own ``<style>`` blocks, each rule of which *every*
selector needs a class the page does not have. What is left renders the page
exactly as before: a static page's elements never gain a class, so a removed
rule could never have matched (the browser tests compare the computed style
of every element with and without pruning).

Conservative by construction: a selector's required classes are read outside
parentheses only (``:not(.x)``, ``:is(.x, .y)`` and ``:has(.x)`` require
nothing here), a selector with an escape (``\\``) is always kept, and any
at-rule other than ``@media`` and ``@supports`` (whose rules are pruned the
same way) is kept whole.
"""
from __future__ import annotations

import re
from functools import lru_cache

__all__ = ["prune_page", "prune_css", "page_classes"]

_STYLE = re.compile(r"(<style\b[^>]*>)(.*?)(</style>)", re.S | re.I)
_CLASS_ATTR = re.compile(r"""\bclass\s*=\s*(?:"([^"]*)"|'([^']*)')""", re.I)
_COMMENT = re.compile(r"/\*.*?\*/", re.S)
_CLASS = re.compile(r"\.(-?[A-Za-z_][\w-]*)")
_SELECTOR_SPLIT = re.compile(r",(?![^()]*\))")
#: Blocks smaller than this are the kit's own stylesheets: kept as written.
_MIN_PRUNE = 20_000


def page_classes(page: str) -> frozenset[str]:
    """Every class an element of ``page`` has (its ``class`` attributes)."""
    out: set[str] = set()
    for m in _CLASS_ATTR.finditer(page):
        out.update((m.group(1) if m.group(1) is not None else m.group(2)).split())
    return frozenset(out)


def _blocks(css: str) -> list[str]:
    """Top-level rules and at-rule blocks of ``css`` (comments removed), in order."""
    out, depth, start = [], 0, 0
    for m in re.finditer(r"[{}]", css):
        if m.group() == "{":
            depth += 1
        else:
            depth -= 1
            if depth == 0:
                out.append(css[start:m.end()].strip())
                start = m.end()
    tail = css[start:].strip()
    if tail:
        out.append(tail)   # a statement without a block (@import, @charset): kept
    return out


def _required(selector: str) -> frozenset[str] | None:
    """Classes an element must have for ``selector`` to match (outside parentheses); None: keep always."""
    if "\\" in selector:
        return None
    depth, flat = 0, []
    for ch in selector:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif depth == 0:
            flat.append(ch)
    return frozenset(_CLASS.findall("".join(flat)))


@lru_cache(maxsize=8)
def _parsed(css: str) -> tuple:
    """``css`` as (text, needs) pairs: ``needs`` is None (always kept), a tuple of class sets (a rule: kept
    when one of its selectors' sets is in the page) or, for ``@media``/``@supports``, (head, inner rules)."""
    out = []
    for block in _blocks(_COMMENT.sub("", css)):
        brace = block.find("{")
        head = block[:brace].strip() if brace >= 0 else block
        if brace < 0 or (head.startswith("@") and not head.startswith(("@media", "@supports"))):
            out.append((block, None))
        elif head.startswith("@"):
            out.append((block, ("@", head, _parsed(block[brace + 1:block.rfind("}")]))))
        else:
            needs = tuple(_required(s) for s in _SELECTOR_SPLIT.split(head))
            out.append((block, None if any(n is None for n in needs) else needs))
    return tuple(out)


def _kept(parsed, classes: frozenset[str]) -> list[str]:
    out = []
    for text, needs in parsed:
        if needs is None:
            out.append(text)
        elif needs and needs[0] == "@":
            inner = _kept(needs[2], classes)
            if inner:
                out.append(needs[1] + " {\n" + "\n".join(inner) + "\n}")
        elif any(n <= classes for n in needs):
            out.append(text)
    return out


def prune_css(css: str, classes) -> str:
    """``css`` without the rules that need a class outside ``classes``.

    Parameters
    ----------
    css : str
        A stylesheet.
    classes : iterable of str
        Every class of the page it styles (:func:`page_classes`).

    Returns
    -------
    str

    Examples
    --------
    >>> css = ".a p { x: 1 } .b, .a .c { x: 2 } .z { x: 3 } p:not(.z) { x: 4 } @media print { .z { x: 5 } }"
    >>> print(prune_css(css, {"a", "c"}))
    .a p { x: 1 }
    .b, .a .c { x: 2 }
    p:not(.z) { x: 4 }
    """
    return "\n".join(_kept(_parsed(css), frozenset(classes)))


def prune_page(page: str) -> str:
    """``page`` (a complete HTML page without scripts) with its large ``<style>`` blocks pruned to its classes.

    Blocks under 20 kB (the kit's own print stylesheet) are kept as written.
    """
    classes = page_classes(page)

    def one(m):
        css = m.group(2)
        return m.group(0) if len(css) < _MIN_PRUNE else m.group(1) + prune_css(css, classes) + m.group(3)

    return _STYLE.sub(one, page)
