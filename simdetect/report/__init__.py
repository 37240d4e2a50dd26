"""Evidence reports: a schema-versioned JSON record of a case, its HTML and PDF renderings,
and the verification that re-checks a record against its files and its index.

Modules, one job each:

- `record`: build the evidence record (field by field documentation: SCHEMA.md here);
- `canonical`: canonical JSON, the record digest and the section digests;
- `scanning`: score a case's images exactly as `simdetect scan` does, reproducibly;
- `limitations`: the plain-words limits that apply to one record;
- `i18n`: every human-readable string, Simplified Chinese and English, in one table;
- `plots`, `images`, `html`, `pdf`: the renderings;
- `case`: make one case's report end to end; `verify`: re-check one;
- `commands`: the `simdetect report` and `simdetect verify` commands.

Nothing is imported here: `simdetect.cli` loads this package on every command, and the
renderers (matplotlib, Jinja2) should cost nothing to commands that do not use them.
Import from the modules: `from simdetect.report.case import make_report`.
"""
