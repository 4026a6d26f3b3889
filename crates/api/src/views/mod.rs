//! Hand-kept answers of the image, distribution, volume, system, stats and
//! container-file endpoints, field for field as dockerd prints them. Each type says where
//! the spec (and so the generated [`crate::model`]) is wrong for it: mostly
//! the order of the fields (dockerd's Go structs, not the spec's property
//! order, decide what clients see), `omitempty` the spec does not state, or
//! a body the spec leaves untyped. Where a generated type prints exactly
//! what dockerd prints it is re-exported here instead, so the engine's
//! callers find every view in one place.

pub mod container;
pub mod image;
pub mod stats;
pub mod swarm;
pub mod system;
pub mod volume;

pub use container::{ContainerPathStat, MountPoint};
pub use image::{
    DistributionDescriptor, DistributionInspect, DistributionPlatform, ImageGraphDriver,
    ImageInspect, ImageInspectConfig,
};
pub use stats::{
    BlkioStatEntry, BlkioStats, CpuStats, CpuUsage, MemoryStats, NetworkStats, PidsStats,
    StatsResponse, StorageStats, ThrottlingData,
};
pub use system::{Commit, DiskUsage, InfoRuntime, SwarmInfo, SystemInfo};
pub use volume::{Volume, VolumeListResponse, VolumeUsageData};

/// Generated types whose encoding is dockerd's already.
pub use crate::model::{
    ContainerTopResponse, ContainerUpdateBody, ContainerUpdateResponse, Health, HealthcheckResult,
    IndexInfo, PluginsInfo, RegistryServiceConfig, VolumePruneResponse,
};
