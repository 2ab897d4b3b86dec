# SPDX-License-Identifier: MIT
"""HTML that escapes by construction: the one way the report builds its page.

A page is a tree of elements, serialised here: every text node and every attribute value is
escaped on the way out (& < > " '), so no string, wherever it came from, can become markup. There
is no way here to insert raw HTML. The only raw text on a page is the course's own style sheet and
self-check script, constants given to page(); an element built with E() cannot be a script, a style
or a frame, carries no event handler, and a link can only point to a relative path.
"""

import base64
import hashlib
import urllib.parse

_NO_TEXT_ELEMENTS = {"script", "style", "iframe", "object", "embed", "link", "meta", "base", "form"}
_VOID = {"br", "wbr", "img", "meta", "hr", "input"}
_URL_ATTRIBUTES = {"href", "src"}
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"})


def escape(text):
    return str(text).translate(_ESCAPES)


class Element:
    """A tag, its attributes (already checked) and its children (str or Element)."""

    __slots__ = ("tag", "attrs", "children")

    def __init__(self, tag, attrs, children):
        self.tag = tag
        self.attrs = attrs
        self.children = children

    @property
    def text(self):
        """Its first child when that is text (else None)."""
        return self.children[0] if self.children and isinstance(self.children[0], str) else None

    def write(self, out):
        out.append("<" + self.tag)
        for name, value in self.attrs:
            out.append(' %s="%s"' % (name, escape(value)))
        out.append(">")
        if self.tag in _VOID:
            return
        for child in self.children:
            if isinstance(child, Element):
                child.write(out)
            else:
                out.append(escape(child))
        out.append("</%s>" % self.tag)


def _url(value):
    """A link to a file beside the page or a section of it, percent-encoded: never a scheme
    (javascript:, http:), never an absolute path."""
    if value.startswith("#"):
        return "#" + urllib.parse.quote(value[1:], safe="-_.")
    if ":" in value.split("/", 1)[0] or value.startswith(("/", "\\")):
        raise ValueError("not a relative link: %r" % value)
    return urllib.parse.quote(value, safe="/-_.~")


def E(tag, *children, **attrs):
    """An element: E("p", "text ", E("code", name), class_="note"). Children are strings (text),
    elements, None (nothing) or lists of these; attribute names take a trailing _ where Python
    needs one (class_). Attributes that are None are left out."""
    if tag in _NO_TEXT_ELEMENTS:
        raise ValueError("E() does not build <%s>" % tag)
    checked = []
    for name, value in attrs.items():
        if value is None:
            continue
        name = name.rstrip("_").replace("_", "-")
        if name.startswith("on") or name in ("style", "srcdoc", "formaction"):
            raise ValueError("no %s attribute" % name)
        value = str(value)
        checked.append((name, _url(value) if name in _URL_ATTRIBUTES else value))
    flat = []
    _flatten(children, flat)
    return Element(tag, checked, flat)


def _flatten(children, out):
    for child in children:
        if child is None:
            continue
        if isinstance(child, (list, tuple)):
            _flatten(child, out)
        elif isinstance(child, Element):
            out.append(child)
        else:
            out.append(str(child))


def _digest(text):
    return "'sha256-%s'" % base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode()


def page(title, style, script, body):
    """The whole document: title (text), the course's style sheet and script (constants: they are
    written raw, and the page's policy allows exactly them), body (a list of elements)."""
    # No request leaves the page: nothing from anywhere but the page's own folder, and no script or
    # style but the two named here by their hash (the browser enforces it).
    policy = ("default-src 'none'; img-src 'self'; style-src %s; script-src %s; base-uri 'none'; "
              "form-action 'none'" % (_digest(style), _digest(script)))
    out = ['<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           '<meta http-equiv="Content-Security-Policy" content="%s">' % escape(policy),
           "<title>%s</title><style>%s</style></head>\n<body>\n" % (escape(title), style)]
    for el in body:
        el.write(out)
        out.append("\n")
    out.append("<script>%s</script>\n</body></html>\n" % script)
    return "".join(out)
