"""The process a detached launch starts: `ftui train --run-version ID` (not for users).

It reads the run's spec from the version's metadata, waits its turn for the device, and
trains into that version (or resumes it), recording every outcome there.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ftui.store.fields import as_dict
from ftui.store.jsonio import ReadError, read_json_object
from ftui.store.writer import metadata_path


def run_version(root: Path, version_id: str, resume_checkpoint: str | None, quiet: bool) -> int:
    """Train the claimed version `version_id` under `root`; the exit code of `ftui train`."""
    from ftui.train.commands import EXIT_USAGE, run_spec
    from ftui.train.engine import Attach
    from ftui.train.spec import RunSpec, SpecError

    root = root.resolve()
    try:
        record = read_json_object(metadata_path(root, version_id))
        spec = RunSpec.from_dict({**as_dict(record.get("spec")), "root": str(root)})
    except (ReadError, SpecError) as exc:
        print(f"error: {version_id}: cannot read its spec ({exc})", file=sys.stderr)
        return EXIT_USAGE
    attach = Attach(version_id, resume_checkpoint, "detached")
    return run_spec(spec, quiet=quiet, attach=attach)
