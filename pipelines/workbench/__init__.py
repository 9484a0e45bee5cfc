"""workbench: the analyst's tools around the spine, not a stage of it.

- ``vigie init`` proposes a site's configuration from its export files: ``headers`` (what
  each role is called in exports), ``detect`` (what each column holds, the order of the
  dates, the coordinate system), ``labels`` (the export's category labels onto the
  taxonomy), ``siteblock`` (the commented TOML), ``dialogue`` and ``questions`` (the French
  questions, or none with ``--yes``), ``show`` (what is shown, the preview), ``init`` (the
  command).
- ``vigie doctor`` checks an installation and a configuration: ``installation`` (Python,
  packages, Chromium, Node; standard library only, so that it runs when a package is
  missing) and ``doctor`` (the configuration, its files, the sites' secrets).
- ``options``: the two commands' arguments, which ``pipelines.cli`` registers.

The readers and value parsers are ingestion's own (``pipelines.ingest``): what ``init``
proposes is what ingestion will read. This package's ``__init__`` imports nothing, so
that the CLI can register the options without loading pandas.
"""
