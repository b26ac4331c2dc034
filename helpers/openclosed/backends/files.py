"""Where an open model's files are: an offline asset (from the asset table),
a local folder, or a Hub snapshot at its pinned revision. Offline means
offline: a hub model that is not on disk fails at once, saying how to get it,
instead of retrying the network."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..catalog.asset_files import read_asset_info
from ..catalog.assets import asset_folder
from ..catalog.hub import local_snapshot
from ..catalog.hub_files import hub_files
from ..catalog.specs import ModelSpec
from ..core.errors import ModelNotAvailableError, OpenClosedError
from ..core.machine import hub_reachable
from ..core.settings import Settings


@dataclass
class ModelFiles:
    """What to hand ``from_pretrained``: a folder or hub id, extra keyword
    arguments, and what the folder's marker says (random weights, stand-in)."""

    where: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    random_weights: bool = False
    stand_in: bool = False
    note: str = ""


def model_files(spec: ModelSpec, settings: Settings) -> ModelFiles:
    """The files of ``spec`` on this machine (or the hub id to download, when allowed)."""
    if spec.asset:
        folder = asset_folder(spec.asset, settings.cache_dir)
        return _marked(ModelFiles(str(folder)), folder)
    if spec.source == "folder":
        if not Path(spec.ref).is_dir():
            raise OpenClosedError(f"the folder of {spec.name!r} is gone: {spec.ref}", "register it again with path=")
        return _marked(ModelFiles(spec.ref), Path(spec.ref))
    if spec.source != "hub":
        raise OpenClosedError(f"{spec.name!r} has no files to load (source {spec.source!r})",
                              "register the model with model= (a hub id) or path= (a folder)")
    snapshot = local_snapshot(spec)
    get_it = (f"download it where the Hub is reachable: `python -m openclosed.catalog.assets --profile "
              f"{spec.profiles[0] if spec.profiles else 'workshop'}` (or huggingface-cli download {spec.ref} "
              f"--revision {spec.revision or 'main'}), or pick a model of the offline profile")
    if snapshot is not None:
        record = hub_files(spec)  # the weight files this commit holds (catalog/hub_files.py)
        missing = [w for w in (record.weights if record else ()) if not (snapshot / w).is_file()]
        if missing:
            raise ModelNotAvailableError(
                f"{spec.name!r} ({spec.ref}@{spec.revision}) is only partly on this machine: its snapshot lacks "
                f"{', '.join(missing)}", get_it)
        return _marked(ModelFiles(str(snapshot)), snapshot)
    if settings.offline:
        raise ModelNotAvailableError(
            f"{spec.name!r} ({spec.ref}@{spec.revision or 'main'}) is not on this machine and the "
            f"{'offline profile' if settings.profile == 'offline' else 'HF_HUB_OFFLINE setting'} allows no download",
            get_it)
    if not hub_reachable():
        raise ModelNotAvailableError(
            f"{spec.name!r} ({spec.ref}) is not on this machine and the Hugging Face Hub cannot be reached", get_it)
    return ModelFiles(spec.ref, {"revision": spec.revision or "main"})


def _marked(files: ModelFiles, folder: Path) -> ModelFiles:
    info = read_asset_info(folder) or {}
    files.random_weights = bool(info.get("random_weights"))
    files.stand_in = bool(info.get("stand_in"))
    if files.stand_in:
        files.note = ("STAND-IN: random weights with this model's real configuration (a rehearsal without the Hub); "
                      "its outputs are meaningless")
    return files
