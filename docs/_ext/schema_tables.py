"""Sphinx extension: tables of the declared schemas of :mod:`ephemerides.schemas`.

``.. schema:: DIASOURCE`` (or ``.. schema:: ORBITS[KEP]`` for a schema kept in a dict) renders
the schema's documentation comment, then one row per column — name, dtype, unit, whether it is
required, the values allowed and the column's description — and the columns whose values must be
unique. The tables are made from the ``Schema`` objects at build time, so the documentation
cannot drift from what the code checks. The build warns (an error under ``-W``) about any
schema of the module that no page shows, so that a new schema is documented with the rest.
"""

import importlib
import re
from typing import ClassVar

import numpy as np
from docutils import nodes
from docutils.parsers.rst import Parser, directives
from docutils.utils import new_document
from sphinx.pycode import ModuleAnalyzer
from sphinx.util import logging
from sphinx.util.docutils import LoggingReporter, SphinxDirective

MODULE = "ephemerides.schemas"
HEADER = ("column", "type", "unit", "required", "values", "meaning")
WIDTHS = (16, 7, 14, 8, 20, 35)
DTYPE_WORDS = {"int64": "int64", "float64": "float64", "str": "text", "object": "array"}

logger = logging.getLogger(__name__)


def _schemas_module():
    return importlib.import_module(MODULE)


def declared_schemas() -> dict:
    """Module attribute name → Schema or dict of Schemas, in declaration order."""
    module = _schemas_module()
    return {name: value for name, value in vars(module).items()
            if not name.startswith("_") and (isinstance(value, module.Schema) or (
                isinstance(value, dict) and value
                and all(isinstance(v, module.Schema) for v in value.values())))}


def _number(value: float) -> str:
    text = f"{value:g}"
    return text.replace("-", "−")


def allowed_values(column) -> str:
    """The values a column may hold, in a few words (the unit is in its own cell); choices are
    listed by :func:`_values_cell` before these words."""
    parts = []
    low, high = column.low, column.high
    if np.isfinite(low) and np.isfinite(high):
        parts.append(f"{'(' if column.low_open else '['}{_number(low)}, "
                     f"{_number(high)}{')' if column.high_open else ']'}")
    elif np.isfinite(low):
        parts.append(f"{'>' if column.low_open else '≥'} {_number(low)}")
    elif np.isfinite(high):
        parts.append(f"{'<' if column.high_open else '≤'} {_number(high)}")
    if column.dtype in ("int64", "float64"):
        parts.append("may be missing" if column.nullable else "never missing")
    elif not column.nullable:
        parts.append("never missing")
    return "; ".join(parts)


def _lookup(argument: str):
    """The schema an argument names: ``NAME`` or ``NAME[KEY]``; (attribute name, schema)."""
    match = re.fullmatch(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:\[\s*([^\]]+?)\s*\])?\s*", argument)
    if match is None:
        raise ValueError(f"write NAME or NAME[KEY], not {argument!r}")
    name, key = match.groups()
    schemas = declared_schemas()
    if name not in schemas:
        raise ValueError(f"{MODULE} declares no schema {name!r}; it declares {list(schemas)}")
    value = schemas[name]
    if isinstance(value, dict):
        if key is None:
            raise ValueError(f"{name} holds one schema per key: write {name}[KEY], KEY among "
                             f"{list(value)}")
        key = key.strip("'\"")
        if key not in value:
            raise ValueError(f"{name} has no key {key!r}; its keys are {list(value)}")
        return name, value[key]
    if key is not None:
        raise ValueError(f"{name} is one schema: write {name} without a key")
    return name, value


class SchemaDirective(SphinxDirective):
    """``.. schema:: NAME`` — the table of a declared schema."""

    required_arguments = 1
    final_argument_whitespace = True
    option_spec: ClassVar[dict] = {"no-doc": directives.flag}

    def run(self):
        try:
            name, schema = _lookup(self.arguments[0])
        except ValueError as error:
            raise self.error(f"schema: {error}") from None
        self.env.note_dependency(_schemas_module().__file__)
        if not hasattr(self.env, "sso_schemas_shown"):
            self.env.sso_schemas_shown = {}
        self.env.sso_schemas_shown.setdefault(self.env.docname, set()).add(name)

        result = []
        doc = _attribute_doc(name) if "no-doc" not in self.options else []
        if doc:
            result.extend(self._rst("\n".join(doc)))
        result.append(self._table(schema))
        if schema.unique:
            para = nodes.paragraph()
            para += nodes.Text("Unique: ")
            for i, column in enumerate(schema.unique):
                if i:
                    para += nodes.Text(", ")
                para += nodes.literal(text=column)
            para += nodes.Text(f" (the {schema.name} table is refused if two rows share one).")
            result.append(para)
        return result

    def _rst(self, text: str) -> list:
        """Nodes of reStructuredText (the schemas module's markup), whatever the page's own
        markup is (a MyST page would read ``> 0`` as a quotation); its problems are Sphinx
        warnings (errors under ``-W``) located at the schema."""
        document = new_document(f"{MODULE}.{self.arguments[0]}", self.state.document.settings)
        document.reporter = LoggingReporter.from_reporter(document.reporter)
        Parser().parse(text, document)
        return list(document.children)

    def _cell(self, text: str = "", literal: str = "", parse: bool = False):
        entry = nodes.entry()
        if literal:
            entry += nodes.paragraph("", "", nodes.literal(text=literal))
        elif parse and text:
            entry.extend(self._rst(text))
        elif text:
            entry += nodes.paragraph(text=text)
        return entry

    def _values_cell(self, column):
        para = nodes.paragraph()
        if column.choices:
            para += nodes.Text("one of ")
            for i, choice in enumerate(column.choices):
                if i:
                    para += nodes.Text(", ")
                para += nodes.literal(text=str(choice))
        words = allowed_values(column)
        if words:
            para += nodes.Text(("; " if column.choices else "") + words)
        entry = nodes.entry()
        entry += para
        return entry

    def _table(self, schema):
        table = nodes.table(classes=["schema-table"])
        title = nodes.title(text=f"{schema.name} columns")
        table += title
        group = nodes.tgroup(cols=len(HEADER))
        table += group
        for width in WIDTHS:
            group += nodes.colspec(colwidth=width)
        head = nodes.thead()
        group += head
        row = nodes.row()
        for text in HEADER:
            row += nodes.entry("", nodes.paragraph(text=text))
        head += row
        body = nodes.tbody()
        group += body
        for column in schema.columns:
            row = nodes.row()
            row += self._cell(literal=column.name)
            row += self._cell(DTYPE_WORDS.get(column.dtype, column.dtype))
            row += self._cell(column.unit)
            row += self._cell("yes" if column.required else "")
            row += self._values_cell(column)
            row += self._cell(getattr(column, "description", ""), parse=True)
            body += row
        return table


def _attribute_doc(name: str) -> list[str]:
    """The documentation comment of a module attribute (the string below its assignment)."""
    analyzer = ModuleAnalyzer.for_module(MODULE)
    return list(analyzer.find_attr_docs().get(("", name), []))


def _purge(app, env, docname):
    getattr(env, "sso_schemas_shown", {}).pop(docname, None)


def _merge(app, env, docnames, other):
    shown = getattr(other, "sso_schemas_shown", {})
    if not hasattr(env, "sso_schemas_shown"):
        env.sso_schemas_shown = {}
    for docname in docnames:
        if docname in shown:
            env.sso_schemas_shown[docname] = shown[docname]


def _check_all_shown(app, env):
    shown = set().union(*getattr(env, "sso_schemas_shown", {}).values())
    for name in declared_schemas():
        if name not in shown:
            logger.warning(f"schema {name} of {MODULE} is shown on no page: add "
                           f"'.. schema:: {name}' (or a {{schema}} block) to "
                           "docs/guides/data-formats.md", type="schema", subtype="missing")


def setup(app):
    app.add_directive("schema", SchemaDirective)
    app.connect("env-purge-doc", _purge)
    app.connect("env-merge-info", _merge)
    app.connect("env-check-consistency", _check_all_shown)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True,
            "env_version": 1}
