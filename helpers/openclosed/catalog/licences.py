"""What each licence in the catalog allows. (Introduced in ``02c_quantization.ipynb``.)

"Open" covers different things. **Open weights**: the trained numbers are
published and run on your machine, under a licence that may restrict their
use. **Open source** in the full sense also publishes what made them - the
training code and data - under a licence that lets anyone use, study, modify
and share them (the OSI's Open Source AI Definition). A **closed** model
publishes neither: it is used through its vendor's API under its terms.

:func:`licences` reads every model's licence from the catalog (nothing is
typed twice) and adds what that licence allows, from :data:`TERMS`.
"""

from __future__ import annotations

from dataclasses import dataclass

from .registry import all_models


@dataclass(frozen=True)
class Terms:
    """What a licence allows, in a line each, with where to read it."""

    kind: str  # permissive open-source licence | open weights with use restrictions | non-commercial | proprietary
    commercial_use: str
    modify_and_share: str
    conditions: str
    source: str


TERMS: dict[str, Terms] = {
    "Apache-2.0": Terms(
        "permissive open-source licence", "yes", "yes, under the same terms",
        "keep the licence and notices, state changes; includes a patent grant",
        "https://www.apache.org/licenses/LICENSE-2.0"),
    "MIT": Terms(
        "permissive open-source licence", "yes", "yes", "keep the copyright and licence notice",
        "https://opensource.org/license/mit"),
    "CreativeML OpenRAIL-M": Terms(
        "open weights with use restrictions (RAIL)", "yes", "yes, passing the use restrictions on",
        "no use for the harms listed in its Attachment A (e.g. illegal content, harassment, disinformation)",
        "https://huggingface.co/spaces/CompVis/stable-diffusion-license"),
    "Stability AI Non-Commercial": Terms(
        "open weights, non-commercial", "no (research and personal use; a paid licence for business)",
        "yes, non-commercially", "non-commercial research community licence; acceptable use policy",
        "https://huggingface.co/stabilityai/sd-turbo/blob/main/LICENSE.md"),
    "Qwen Research": Terms(
        "open weights, non-commercial", "no (research only; ask Alibaba Cloud for commercial use)",
        "yes, for research, with the licence", "Qwen Research License Agreement",
        "https://huggingface.co/Qwen/Qwen2.5-3B-Instruct/blob/main/LICENSE"),
}
PROPRIETARY = Terms("proprietary (closed: no weights)", "through the paid API, under the vendor's terms",
                    "no: the weights are never published", "the vendor's terms of use and usage policies", "")
UNKNOWN = Terms("unknown", "check the model card", "check the model card", "register the model with license=", "")


def terms_of(licence: str) -> Terms:
    """The :class:`Terms` of ``licence`` (a catalog licence string)."""
    if licence.startswith("proprietary"):
        return PROPRIETARY
    return TERMS.get(licence, UNKNOWN)


def licences():
    """One row per licence in the catalog: the models under it (read from the catalog), the family, what
    kind of licence it is and what it allows."""
    import pandas as pd

    groups: dict[str, dict[str, list[str]]] = {}
    for m in all_models():
        key = "proprietary (each vendor's terms)" if m.license.startswith("proprietary") else m.license
        g = groups.setdefault(key, {"models": [], "families": [], "raw": [m.license]})
        g["models"].append(m.label)
        if m.family not in g["families"]:
            g["families"].append(m.family)
    rows = []
    for key, g in groups.items():
        t = terms_of(g["raw"][0])
        rows.append({"licence": key, "kind": t.kind, "commercial use": t.commercial_use,
                     "modify and share": t.modify_and_share, "conditions": t.conditions,
                     "family": ", ".join(g["families"]), "models": ", ".join(g["models"]), "text": t.source})
    order = {k: i for i, k in enumerate([*TERMS, "proprietary (each vendor's terms)"])}
    return pd.DataFrame(sorted(rows, key=lambda r: order.get(r["licence"], len(order))))
