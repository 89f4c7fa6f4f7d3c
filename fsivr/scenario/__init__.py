"""Scenarios as YAML and as rows: parsing files and bundles, validating them against the directory,
importing (all or nothing), exporting, and the loaders the server polls (see ``repository``)."""
