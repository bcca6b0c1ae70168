"""Request and result models: the schemas of the CLI commands and the MCP tools, one
module per tool family. Field aliases carry the names of the original request
(includeData, backupName, …) so that one model serves both faces.

Every name is re-exported here: `from orchestrator.models import X` is the way in.
May import profile (names and types the schema defines) and nothing else of
orchestrator.
"""

from orchestrator.models.backup import (
    BackupContainersRequest,
    BackupDatabaseRequest,
    BackupFilesRequest,
    BackupSetInfo,
    BackupSyncRequest,
    BackupSyncResult,
    BackupVmSnapshotRequest,
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
from orchestrator.models.export import (
    BackupEncryptRequest,
    BackupMigrateRequest,
    DownloadBackupRequest,
    DownloadBackupResult,
    ExportFormat,
)
from orchestrator.models.pitr import (
    BaseBackupResult,
    PitrRestoreRequest,
    PitrRestoreResult,
    PitrSetupRequest,
    PitrSetupResult,
    PitrStatusRequest,
    PitrStatusResult,
    ShipRequest,
    ShipResult,
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

__all__ = [
    "ApplyRetentionRequest",
    "ApplyRetentionResult",
    "BackupCompareRequest",
    "BackupContainersRequest",
    "BackupDatabaseRequest",
    "BackupEncryptRequest",
    "BackupFilesRequest",
    "BackupMigrateRequest",
    "BackupSetInfo",
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
    "ExportFormat",
    "FileChange",
    "InitRequest",
    "InitResult",
    "InstallMethod",
    "InstalledFile",
    "ListBackupsRequest",
    "ListBackupsResult",
    "Model",
    "PartComparison",
    "PartResult",
    "PartStatus",
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
    "ShipRequest",
    "ShipResult",
    "VerifyBackupRequest",
    "VerifyCheck",
    "VerifyResult",
]
