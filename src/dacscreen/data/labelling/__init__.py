"""The labelling job: relax every site and state with the configured labeller and store it.

Work is split into tasks, one per (host, site, placement, state, method) (:mod:`.tasks`); a
task relaxes every orientation of its adsorbate and writes all of them in one transaction
(:mod:`.runner`), with pure recipes doing the calculation (:mod:`.recipes`) and a policy
deciding what goes on (:mod:`.policy`). Finished tasks are skipped, so the job is idempotent and
a killed run resumes where it stopped without duplicates.
"""

from dacscreen.data.labelling.recipes import transplant
from dacscreen.data.labelling.runner import Labeller
from dacscreen.data.labelling.tasks import (
    Task,
    TaskInputs,
    plan,
    plan_single_points,
    site_order,
    spanning_first,
    uncovered_first,
)

__all__ = [
    "Labeller",
    "Task",
    "TaskInputs",
    "plan",
    "plan_single_points",
    "site_order",
    "spanning_first",
    "transplant",
    "uncovered_first",
]
