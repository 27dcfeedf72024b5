"""A paginator that stops counting: the admin on a table of millions stays fast."""

from django.core.paginator import Paginator
from django.utils.functional import cached_property

COUNT_CAP = 10_000


class CappedCountPaginator(Paginator):
    """Counts at most COUNT_CAP + 1 rows (COUNT over a LIMITed subquery).

    A filtered COUNT(*) over a million attempts costs more than the page itself; past the cap
    an operator narrows the filter rather than paging through.
    """

    @cached_property
    def count(self) -> int:
        if isinstance(self.object_list, list):
            return len(self.object_list)
        if self.object_list.query.is_sliced:  # already bounded, and cannot be reordered
            return self.object_list.count()
        # Any COUNT_CAP + 1 matching rows will do: without the list's ordering SQLite does not
        # sort every matching row first, and without its annotations (per-row subqueries)
        # only the filters are evaluated.
        return self.object_list.order_by().values("pk")[: COUNT_CAP + 1].count()
