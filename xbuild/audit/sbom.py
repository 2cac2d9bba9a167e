"""A CycloneDX SBOM of a built artifact: the runtime, every wheel, the native libraries in it.

Written with cyclonedx-python-lib and validated against the CycloneDX 1.6 JSON schema
before it is saved. Serial number and timestamp derive from the artifact's inputs, so
the same build gives the same SBOM.
"""

from __future__ import annotations

import datetime
import uuid
from email.parser import Parser
from pathlib import Path
from typing import Any

from cyclonedx.factory.license import LicenseFactory
from cyclonedx.model import HashAlgorithm, HashType, Property
from cyclonedx.model.bom import Bom
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.output.json import JsonV1Dot6
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from packageurl import PackageURL

from xbuild.cache import sha256_file
from xbuild.errors import BuildError


def _wheel_license(app_dir: Path, name: str, version: str) -> str | None:
    for meta in app_dir.glob("*.dist-info/METADATA"):
        fields = Parser().parsestr(meta.read_text(errors="replace"), headersonly=True)
        if fields.get("Name", "").lower().replace("_", "-") == name.lower().replace("_", "-") and fields.get("Version") == version:
            expression = fields.get("License-Expression")
            if expression:
                return expression
            classifiers = [c.split(" :: ")[-1] for c in fields.get_all("Classifier", []) if c.startswith("License ::")]
            if classifiers:
                return classifiers[0]
            first_line = (fields.get("License") or "").strip().split("\n", 1)[0]
            return first_line[:100] or None
    return None


def build_sbom(folder: Path, record: dict[str, Any], epoch: int) -> str:
    """The SBOM of the artifact at `folder`, described by its xbuild-build.json `record`."""
    project = record["project"]
    bom = Bom()
    bom.serial_number = uuid.uuid5(uuid.NAMESPACE_URL, f"xbuild:{project['name']}:{project['version']}:{record['target']}:{sorted(record['runtime']['inputs'].items())}")
    bom.metadata.timestamp = datetime.datetime.fromtimestamp(epoch, tz=datetime.UTC)
    bom.metadata.component = root = Component(
        name=project["name"], version=project["version"], type=ComponentType.APPLICATION, bom_ref=f"app:{project['name']}",
        properties=[Property(name="xbuild:target", value=record["target"])]
        + ([Property(name="xbuild:lock-sha256", value=f"{record['lock']['file']} sha256:{record['lock']['sha256']}")] if record.get("lock") else []),
    )  # fmt: skip
    licenses = LicenseFactory()
    runtime = record["runtime"]
    bom.components.add(
        Component(
            name="cpython", version=runtime["python"], type=ComponentType.FRAMEWORK, bom_ref="runtime:cpython",
            purl=PackageURL("generic", "cpython", runtime["python"]),
            licenses=[licenses.make_from_string("PSF-2.0")],
            hashes=[HashType(alg=HashAlgorithm.SHA_256, content=sha) for sha in sorted(set(runtime["inputs"].values()))[:1]],
            properties=[Property(name="xbuild:runtime-source", value=runtime["source"]),
                        Property(name="xbuild:runtime-origin", value=runtime["origin"] or "-")]
            + [Property(name="xbuild:runtime-input", value=f"{n} sha256:{s}") for n, s in sorted(runtime["inputs"].items())],
        )
    )  # fmt: skip
    app_dir = folder / "app"
    from_source = record.get("built_from_source", {})
    for wheel in record["wheels"]:
        license_text = _wheel_license(app_dir, wheel["name"], wheel["version"])
        built = from_source.get(wheel["file"])
        provenance = [] if built is None else [
            Property(name="xbuild:built-from-source", value=built["sdist"] or "-"),
            Property(name="xbuild:sdist-sha256", value=built["sdist_sha256"]),
            Property(name="xbuild:sdist-url", value=built["sdist_url"] or "-"),
            Property(name="xbuild:cross-build-key", value=built["cache_key"]),
        ]  # fmt: skip
        bom.components.add(
            Component(
                name=wheel["name"], version=wheel["version"], type=ComponentType.LIBRARY, bom_ref=f"wheel:{wheel['file']}",
                purl=PackageURL("pypi", wheel["name"].lower().replace("_", "-"), wheel["version"], qualifiers={"file_name": wheel["file"]}),
                hashes=[HashType(alg=HashAlgorithm.SHA_256, content=wheel["sha256"])],
                licenses=[licenses.make_from_string(license_text)] if license_text else [],
                properties=provenance,
            )
        )  # fmt: skip
    for lib in sorted((folder / "runtime" / "lib").glob("*.so*")) if (folder / "runtime" / "lib").is_dir() else []:
        if lib.is_symlink() or not lib.is_file() or lib.name.startswith("libpython"):
            continue
        bom.components.add(
            Component(
                name=lib.name, type=ComponentType.LIBRARY, bom_ref=f"native:{lib.name}",
                hashes=[HashType(alg=HashAlgorithm.SHA_256, content=sha256_file(lib))],
                properties=[Property(name="xbuild:grafted-from", value=runtime["source"])],
            )
        )  # fmt: skip
    bom.register_dependency(root, list(bom.components))
    text = JsonV1Dot6(bom).output_as_string(indent=2)
    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text)
    if error is not None:
        raise BuildError(f"the SBOM for {record['target']} does not validate against CycloneDX 1.6: {error}")
    return text + "\n"
