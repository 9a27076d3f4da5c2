"""Which record of a task is its label (SCIENCE.md §3), and the migration of older records.

**The label** of a site × intermediate × method is the lowest-energy *valid* record of that task:
converged, and without an anomaly of the site (metal out of the plane or off N, pair separated
or merged, adsorbate desorbed). Its adsorbate may be intact, S–S cleaved, Li detached or other
(``state_class``): a changed bond graph is chemistry, not an anomaly. The record is flagged
``best``. The lowest valid *intact* record is flagged ``best_intact`` too, so that a user can
compare with papers that report intact adsorption. A single point of a higher-fidelity method
(ML+SP) is a candidate only while its source is the label of the source method's task: the DFT
label evaluates the MLIP's label geometry.

The rule is applied by the store whenever records are written (:meth:`Store.write_records`), to
every task the write touches, so the labeller, the shard import and the DFT tier share it.

**Migration.** Records labelled before the state classes exist carry ``anomaly = "adsorbate
dissociated"`` for a changed adsorbate graph and no ``state_class``. :func:`migrate` gives them
their class from the stored start (``initial_positions``) and final geometry and clears that
anomaly; a single point inherits the class of its source record. Energies and geometries are
never touched: nothing is relabelled, the shards stay as they are, and the local store is
migrated as it is built from them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ase import Atoms

from dacscreen.data.adsorbates import orientations
from dacscreen.data.anomalies import LEGACY_ANOMALY, state_class

UNKNOWN = "unknown"
"""The class of an imported record with no start to compare with (e.g. a VASP CONTCAR)."""


@dataclass(frozen=True)
class Candidate:
    """What the label rule needs of one record."""

    key: Any
    energy: float
    converged: bool
    anomaly: str
    state_class: str
    source_is_label: bool = True
    """For a single point (ML+SP): whether its source record is the label of its own task."""
    replaced: bool = False
    """Whether a later record of the task names this one in its ``replaces`` key."""

    @property
    def valid(self) -> bool:
        """Converged, without an anomaly of the site, not replaced, and (a single point) on the
        label geometry."""
        return bool(self.converged) and not self.anomaly and self.source_is_label and not self.replaced


def candidate(key: Any, keys: Mapping[str, Any], energy: float) -> Candidate:
    """A :class:`Candidate` from a record's key-value pairs and energy (eV)."""
    return Candidate(
        key,
        float(energy),
        bool(keys.get("converged", True)),
        str(keys.get("anomaly", "") or ""),
        str(keys.get("state_class", UNKNOWN) or UNKNOWN),
    )


def choose(cands: Iterable[Candidate]) -> tuple[Any, Any]:
    """(key of the label, key of the lowest valid intact record); None where there is none."""
    valid = sorted((c for c in cands if c.valid), key=lambda c: c.energy)
    intact = [c for c in valid if c.state_class == "intact"]
    return (valid[0].key if valid else None), (intact[0].key if intact else None)


def search_complete(state: str, n_metals: int, tried: Iterable[str]) -> bool:
    """Whether the placement search of a task has started every offered orientation of
    ``state`` (:func:`~dacscreen.data.adsorbates.orientations`; a continued start ``<name>+``
    counts as its start). Its label is then the lowest state the search can find; from fewer
    starts it is an upper bound on that state, often far above it (a one-start Li2S6 label is
    intact, a full search finds it cleaved, ``benchmarks/results/label_noise.md``). A task whose
    records are not from the placement search (a single point ``sp``, an imported ``dft``
    record, a clean site ``none``) counts as complete: its one record is its label."""
    offered = set(orientations(n_metals, state))
    started = {str(t).removesuffix("+") for t in tried}
    return offered <= started or not started & (offered | {"template"})


def flags(cands: list[Candidate]) -> dict[Any, dict[str, bool]]:
    """``{key: {"best": .., "best_intact": ..}}`` for every candidate of one task."""
    best, intact = choose(cands)
    return {c.key: {"best": c.key == best, "best_intact": c.key == intact} for c in cands}


def migrate(keys: dict[str, Any], initial: Atoms | None, final: Atoms, classes: Mapping[str, str]) -> None:
    """Give a site record of an older labeller its ``state_class`` (in place) and clear the
    legacy dissociation anomaly. ``classes`` maps the rids of records already classified to
    their class (the source of a single point is looked up there)."""
    if keys.get("kind") != "site" or keys.get("state_class"):
        return
    if keys.get("source"):
        keys["state_class"] = classes.get(str(keys["source"]), UNKNOWN)
    elif keys.get("adsorbate") == "clean":
        keys["state_class"] = "intact"
    elif initial is not None and len(initial) == len(final):
        keys["state_class"] = state_class(initial, final)
    else:
        keys["state_class"] = UNKNOWN
    if keys.get("anomaly") == LEGACY_ANOMALY:
        keys["anomaly"] = ""
    drop_unbounded_dband(keys)


def drop_unbounded_dband(keys: dict[str, Any]) -> None:
    """Remove d-band centres stored with an unbounded window (an early labeller's full-band
    fall-back, e.g. −589.7 eV for single-atom Sc); the window key says why they are gone."""
    window = str(keys.get("dband_window", ""))
    if "inf" in window:
        for k in ("dband_m1", "dband_m2"):
            keys.pop(k, None)
        keys["dband_window"] = "-10,0"
        keys["dband_note"] = f"value over window {window} dropped"
