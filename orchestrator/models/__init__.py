"""Request and result models: the schemas of the CLI commands and the MCP tools, one
module per tool family. Field aliases carry the names of the original request
(includeData, backupName, …) so that one model serves both faces.

Every name is re-exported here: `from orchestrator.models import X` is the way in. The
modules are imported on first use of one of their names (building ~100 pydantic models
is most of a command's start), so a command pays only for the models it uses.
May import profile (names and types the schema defines) and nothing else of
orchestrator.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from orchestrator.models.backup import (
        BackupContainersRequest,
        BackupDatabaseRequest,
        BackupFilesRequest,
        BackupSetInfo,
        BackupSyncRequest,
        BackupSyncResult,
        BackupVmSnapshotRequest,
        ContinuousBaseInfo,
        ContinuousInfo,
        CreateBackupRequest,
        CreateBackupResult,
        InitRequest,
        InitResult,
        ListBackupsRequest,
        ListBackupsResult,
        PartResult,
        SetType,
    )
    from orchestrator.models.base import (
        Model,
    )
    from orchestrator.models.drill import (
        DrillCheck,
        DrillKind,
        DrillOutcome,
        DrillRecord,
        DrillRequest,
        DrillResult,
        DrillTable,
    )
    from orchestrator.models.export import (
        BackupEncryptRequest,
        BackupEncryptResult,
        BackupMigrateRequest,
        BackupMigrateResult,
        DownloadBackupRequest,
        DownloadBackupResult,
        ExportFormat,
        MigratedPart,
    )
    from orchestrator.models.keys import (
        KeyChangeRequest,
        KeyChangeResult,
        KeyEntry,
        KeyListRequest,
        KeyListResult,
    )
    from orchestrator.models.observe import (
        Health,
        HostReport,
        HostStatus,
        JobReport,
        ReportRequest,
        ReportResult,
        RepositoryReport,
        RepositoryStatus,
        RestorePoint,
        RunPoint,
        ScheduleStatus,
        StatusRequest,
        StatusResult,
    )
    from orchestrator.models.pitr import (
        BaseBackupResult,
        BaseChain,
        PitrPruneRequest,
        PitrPruneResult,
        PitrRestoreRequest,
        PitrRestoreResult,
        PitrSetupRequest,
        PitrSetupResult,
        PitrStatusRequest,
        PitrStatusResult,
        PitrVerifyRequest,
        PitrVerifyResult,
        ShipRequest,
        ShipResult,
    )
    from orchestrator.models.recovery import (
        RECOVER_PARTS,
        FollowUp,
        RecoverPart,
        RecoverRequest,
        RecoveryResult,
        RecoveryStep,
        StepResult,
    )
    from orchestrator.models.restore import (
        RestoreBackupRequest,
        RestoreMode,
        RestorePlanEntry,
        RestoreResult,
    )
    from orchestrator.models.schedule import (
        ApplyRetentionRequest,
        ApplyRetentionResult,
        InstalledFile,
        InstallMethod,
        RetentionDecision,
        ScheduleBackupRequest,
        ScheduleBackupResult,
        ScheduleInfo,
    )
    from orchestrator.models.verify import (
        BackupCompareRequest,
        ChangeKind,
        CompareResult,
        FileChange,
        PartComparison,
        PartStatus,
        VerifyBackupRequest,
        VerifyCheck,
        VerifyResult,
    )

_MODULE_OF: dict[str, str] = {
    **dict.fromkeys((
        "BackupContainersRequest", "BackupDatabaseRequest", "BackupFilesRequest",
        "BackupSetInfo", "BackupSyncRequest", "BackupSyncResult",
        "BackupVmSnapshotRequest", "ContinuousBaseInfo", "ContinuousInfo",
        "CreateBackupRequest", "CreateBackupResult", "InitRequest", "InitResult",
        "ListBackupsRequest", "ListBackupsResult", "PartResult", "SetType",
    ), "backup"),
    **dict.fromkeys((
        "Model",
    ), "base"),
    **dict.fromkeys((
        "DrillCheck", "DrillKind", "DrillOutcome", "DrillRecord", "DrillRequest",
        "DrillResult", "DrillTable",
    ), "drill"),
    **dict.fromkeys((
        "BackupEncryptRequest", "BackupEncryptResult", "BackupMigrateRequest",
        "BackupMigrateResult", "MigratedPart", "DownloadBackupRequest",
        "DownloadBackupResult", "ExportFormat",
    ), "export"),
    **dict.fromkeys((
        "KeyChangeRequest", "KeyChangeResult", "KeyEntry", "KeyListRequest",
        "KeyListResult",
    ), "keys"),
    **dict.fromkeys((
        "Health", "HostReport", "HostStatus", "JobReport", "ReportRequest", "ReportResult",
        "RepositoryReport", "RepositoryStatus", "RestorePoint", "RunPoint",
        "ScheduleStatus", "StatusRequest", "StatusResult",
    ), "observe"),
    **dict.fromkeys((
        "BaseBackupResult", "BaseChain", "PitrPruneRequest", "PitrPruneResult",
        "PitrRestoreRequest", "PitrRestoreResult", "PitrSetupRequest", "PitrSetupResult",
        "PitrStatusRequest", "PitrStatusResult", "PitrVerifyRequest", "PitrVerifyResult",
        "ShipRequest", "ShipResult",
    ), "pitr"),
    **dict.fromkeys((
        "RECOVER_PARTS", "FollowUp", "RecoverPart", "RecoverRequest", "RecoveryResult",
        "RecoveryStep", "StepResult",
    ), "recovery"),
    **dict.fromkeys((
        "RestoreBackupRequest", "RestoreMode", "RestorePlanEntry", "RestoreResult",
    ), "restore"),
    **dict.fromkeys((
        "ApplyRetentionRequest", "ApplyRetentionResult", "InstalledFile", "InstallMethod",
        "RetentionDecision", "ScheduleBackupRequest", "ScheduleBackupResult",
        "ScheduleInfo",
    ), "schedule"),
    **dict.fromkeys((
        "BackupCompareRequest", "ChangeKind", "CompareResult", "FileChange",
        "PartComparison", "PartStatus", "VerifyBackupRequest", "VerifyCheck",
        "VerifyResult",
    ), "verify"),
}


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "RunPoint",
    "HostStatus",
    "HostReport",
    "RestorePoint",
    "RepositoryReport",
    "ReportResult",
    "ReportRequest",
    "JobReport",
    "StatusResult",
    "StatusRequest",
    "ScheduleStatus",
    "RepositoryStatus",
    "Health",
    "BaseChain",
    "PitrPruneRequest",
    "PitrPruneResult",
    "PitrVerifyRequest",
    "PitrVerifyResult",
    "ApplyRetentionRequest",
    "ApplyRetentionResult",
    "BackupCompareRequest",
    "BackupContainersRequest",
    "BackupDatabaseRequest",
    "BackupEncryptRequest",
    "BackupEncryptResult",
    "BackupFilesRequest",
    "BackupMigrateRequest",
    "BackupMigrateResult",
    "MigratedPart",
    "BackupSetInfo",
    "ContinuousBaseInfo",
    "ContinuousInfo",
    "BackupSyncRequest",
    "BackupSyncResult",
    "BackupVmSnapshotRequest",
    "BaseBackupResult",
    "ChangeKind",
    "CompareResult",
    "CreateBackupRequest",
    "CreateBackupResult",
    "DownloadBackupRequest",
    "DownloadBackupResult",
    "DrillCheck",
    "DrillKind",
    "DrillOutcome",
    "DrillRecord",
    "DrillRequest",
    "DrillResult",
    "DrillTable",
    "ExportFormat",
    "FileChange",
    "FollowUp",
    "InitRequest",
    "InitResult",
    "InstallMethod",
    "InstalledFile",
    "KeyChangeRequest",
    "KeyChangeResult",
    "KeyEntry",
    "KeyListRequest",
    "KeyListResult",
    "ListBackupsRequest",
    "ListBackupsResult",
    "Model",
    "PartComparison",
    "PartResult",
    "PartStatus",
    "RECOVER_PARTS",
    "RecoverPart",
    "RecoverRequest",
    "RecoveryResult",
    "RecoveryStep",
    "PitrRestoreRequest",
    "PitrRestoreResult",
    "PitrSetupRequest",
    "PitrSetupResult",
    "PitrStatusRequest",
    "PitrStatusResult",
    "RestoreBackupRequest",
    "RestoreMode",
    "RestorePlanEntry",
    "RestoreResult",
    "RetentionDecision",
    "ScheduleBackupRequest",
    "ScheduleBackupResult",
    "ScheduleInfo",
    "SetType",
    "StepResult",
    "ShipRequest",
    "ShipResult",
    "VerifyBackupRequest",
    "VerifyCheck",
    "VerifyResult",
]
