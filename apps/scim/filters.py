"""SCIM filters (RFC 7644 §3.4.2.2) to querysets: scim2-filter-parser parses, this maps the
attributes IdPs filter on (Okta and Entra ask `userName eq "x"`, `externalId eq "x"`,
`displayName eq "x"`) to Q objects. An unsupported attribute or operator is a SCIM 400
`invalidFilter`, never a 500."""

from __future__ import annotations

from collections.abc import Callable

from django.db.models import Q
from scim2_filter_parser import ast
from scim2_filter_parser.lexer import SCIMLexer
from scim2_filter_parser.parser import SCIMParser

from apps.scim.errors import ScimError

# SCIM operator -> Django lookup (string attributes).
_LOOKUPS = {"eq": "iexact", "co": "icontains", "sw": "istartswith", "ew": "iendswith"}
MAX_FILTER = 1000

# attribute name (lower case; "emails.value" for sub-attributes) -> (op, value) -> Q
Attributes = dict[str, Callable[[str, str | None], Q]]


def string_attr(field: str) -> Callable[[str, str | None], Q]:
    def build(op: str, value: str | None) -> Q:
        if op == "pr":
            return ~Q(**{field: ""}) & Q(**{f"{field}__isnull": False})
        if op == "ne":
            return ~Q(**{f"{field}__iexact": value})
        if op not in _LOOKUPS:
            raise ScimError(400, f"Operator {op!r} is not supported here.", "invalidFilter")
        return Q(**{f"{field}__{_LOOKUPS[op]}": value})

    return build


def parse(text: str, attributes: Attributes) -> Q:
    if len(text) > MAX_FILTER or "\x00" in text:
        raise ScimError(400, "The filter is too long or holds a NUL.", "invalidFilter")
    try:
        tree = SCIMParser().parse(SCIMLexer().tokenize(text))
    except Exception as exc:  # sly raises its own error types for bad tokens and syntax
        raise ScimError(400, f"Bad filter: {exc}", "invalidFilter") from None
    if tree is None:
        raise ScimError(400, "Bad filter.", "invalidFilter")
    return _node(tree, attributes)


def _node(node, attributes: Attributes) -> Q:
    if isinstance(node, ast.Filter):
        if node.namespace is not None:
            raise ScimError(400, "Value filters ([...]) are not supported.", "invalidFilter")
        q = _node(node.expr, attributes)
        return ~q if node.negated else q
    if isinstance(node, ast.LogExpr):
        left, right = _node(node.expr1, attributes), _node(node.expr2, attributes)
        return left & right if node.op.lower() == "and" else left | right
    if isinstance(node, ast.AttrExpr):
        path = node.attr_path
        if not isinstance(path.attr_name, str):
            raise ScimError(400, "Value filters ([...]) are not supported.", "invalidFilter")
        name = path.attr_name.lower()
        if path.sub_attr is not None:
            name += "." + str(path.sub_attr.value).lower()
        if name not in attributes:
            raise ScimError(400, f"Cannot filter on {name!r}.", "invalidFilter")
        value = node.comp_value.value if node.comp_value is not None else None
        if value is not None and not isinstance(value, str):
            value = str(value)
        return attributes[name](node.value.lower(), value)
    raise ScimError(400, "Bad filter.", "invalidFilter")
