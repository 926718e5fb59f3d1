"""Path parameter types every route shares.

`PathId` is an object id in a path (`/processes/{process_id}`): 1 … 2^31 − 1, what an id column
holds, so an id that would overflow the database driver is a 422 naming the parameter, never a
500. Use it for every integer id in a path: `def get_item(item_id: PathId, ...)`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from deshi.inputs import MAX_ID

__all__ = ["PathId", "QueryId"]

PathId = Annotated[int, Path(ge=1, le=MAX_ID, description="An object id (1 … 2^31 − 1).")]
# The same bounds for an optional id in the query string (`GET /roles?department_id=`).
QueryId = Annotated[int | None, Query(ge=1, le=MAX_ID, description="An object id (1 … 2^31 − 1).")]
