"""The published-spec index of the S3 store (``PublishedSpecIndex``): ``<prefix>/.dli/published-<source>.json``.

For each spec publish wrote, the ETag of its document and a hash of its spec content, so that an
unchanged publish recognises its documents from a listing instead of reading them (docs/stores.md).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

import structlog

from dli.adapters.codecs.specs import spec_to_dict
from dli.adapters.stores._s3_calls import S3Calls
from dli.domain.model.enums import SourceType
from dli.domain.model.errors import DLIError
from dli.domain.model.spec import DatasetSpec

# The digest scheme of the published-spec index: a new scheme makes every entry a miss, never a wrong hit.
_DIGEST_SCHEME = "sha256:spec_to_dict:json-sorted:1"


class S3PublishedIndex(S3Calls):
    """``known_specs`` and ``remember_specs`` of ``S3SpecStore``."""

    # The index as last read, by source: (name -> (etag, digest)).
    _published: dict[SourceType, dict[str, tuple[str, str]]]

    def known_specs(
        self, source: SourceType, listed: Mapping[str, str], candidates: Mapping[str, DatasetSpec]
    ) -> set[str]:
        """Names whose document at its listed etag holds the candidate spec, by the index under
        ``<prefix>/.dli/published-<source>.json`` (one GET; an etag that moved is a miss).

        The index is only a shortcut: an entry names the etag it was true at, and S3 changes a key's
        etag with its bytes, so a stale or foreign entry can only make the caller read."""
        index = self._published[source] = self._read_published_index(source)
        known: set[str] = set()
        for name, spec in candidates.items():
            entry = index.get(name)
            if entry is not None and name in listed and entry[0] == listed[name] and entry[1] == _spec_digest(spec):
                known.add(name)
        return known

    def remember_specs(self, source: SourceType, specs: Mapping[str, tuple[str, DatasetSpec]]) -> None:
        entries = {name: (etag, _spec_digest(spec)) for name, (etag, spec) in sorted(specs.items())}
        if entries == self._published.get(source):
            return  # nothing new: a publish that changed nothing writes nothing
        body = json.dumps(
            {"scheme": _DIGEST_SCHEME, "specs": {n: list(e) for n, e in entries.items()}}, separators=(",", ":")
        ).encode()
        key = self._published_index_key(source)
        try:
            self._call("write", lambda: self._client.put_object(Bucket=self._bucket, Key=key, Body=body))
        except DLIError as exc:
            structlog.get_logger("dli.s3_store").warning(
                "published_index_not_written", store=self.url, source=source.value, error=exc.message
            )
            return
        self._published[source] = entries

    def _read_published_index(self, source: SourceType) -> dict[str, tuple[str, str]]:
        try:
            fetched = self._get(self._published_index_key(source))
        except DLIError:
            return {}  # a shortcut only: without it, the documents are read
        if fetched is None:
            return {}
        try:
            data = json.loads(fetched[0])
            if data.get("scheme") != _DIGEST_SCHEME:
                return {}
            return {str(n): (str(e[0]), str(e[1])) for n, e in data["specs"].items()}
        except (ValueError, TypeError, KeyError, IndexError, AttributeError):
            return {}

    def _published_index_key(self, source: SourceType) -> str:
        return f"{self._base()}.dli/published-{source.value}.json"


def _spec_digest(spec: DatasetSpec) -> str:
    """A hash of everything a spec says (not who stored it or when): equal specs, equal digests."""
    canonical = json.dumps(spec_to_dict(spec), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()
