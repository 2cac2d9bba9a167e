"""The files xbuild writes into every artifact folder, by name (read back by `xbuild run`, the audit and tests)."""

RECORD = "xbuild-build.json"  # every input: runtime, wheels, lock, sources built here
AUDIT_JSON = "xbuild-audit.json"
AUDIT_MD = "xbuild-audit.md"
SBOM = "xbuild-sbom.cdx.json"
