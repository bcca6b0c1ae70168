"""backup-migrate's three uses (an archive format, a repository, an imported archive)
refuse options of another use before anything is opened."""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator.access import operations as ops
from orchestrator.errors import UsageError
from orchestrator.models import BackupMigrateRequest


@pytest.mark.parametrize(("values", "message"), [
    ({"to": "vault", "toFormat": "zip"}, "give one or the other"),
    ({"to": "vault", "output": "x.zip"}, "give one or the other"),
    ({"to": "vault", "name": "n"}, "a copied set keeps its name"),
    ({"fromArchive": "x.zip"}, "need --to REPO"),
    ({"name": "n", "toFormat": "zip"}, "need --to REPO"),
    ({"fromArchive": "x.zip", "to": "vault", "toFormat": "zip"}, "drop --to-format"),
])
def test_options_of_another_use_are_refused(values: dict[str, Any], message: str) -> None:
    request = BackupMigrateRequest.model_validate(values)
    with pytest.raises(UsageError, match=message):
        ops.migrate(None, request, None)  # type: ignore[arg-type]
