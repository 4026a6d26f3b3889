//! Autolock (see `crate::lock`): a manager's key file is sealed under the
//! unlock key the cluster object holds. Every manager watches the
//! applied store and re-seals its own key file when that key changes
//! (autolock turned on or off, `unlock-key --rotate`), so all managers
//! agree on the key, as swarmkit's managers follow `Cluster.UnlockKeys`.
//! A manager restarted with a sealed key file refuses to open until
//! `Manager::unlock` is given the key.

use std::path::Path;
use std::sync::{Arc, Mutex};

use berth_api::{Error, ErrorKind};

use super::{read, write_synced, Inner, Manager, ManagerConfig};
use crate::lock::keyfile::{self, KeyFileError, NodeSecrets};
use crate::lock::{DataKey, DataKeys, UnlockKey};
use crate::raft::log_store::LogStore;
use crate::raft::state_machine::StateMachine;
use crate::store::{ClusterSpec, Command};

/// dockerd's errSwarmLocked (503).
pub const SWARM_LOCKED: &str = "Swarm is encrypted and needs to be unlocked before it can be used. Please use \"docker swarm unlock\" to unlock it.";
/// dockerd's invalidUnlockKey (401).
pub const INVALID_UNLOCK_KEY: &str = "swarm could not be unlocked: invalid key provided";
/// dockerd's notLockedError (409), for `swarm unlock` on an unlocked node.
pub const NOT_LOCKED: &str = "swarm is not locked";

/// Whether `e` is `Manager::open`'s answer on a locked node: the daemon
/// then waits for `swarm unlock` (and answers swarm calls with it).
pub fn is_swarm_locked(e: &Error) -> bool {
    e.kind() == ErrorKind::Unavailable && e.message == SWARM_LOCKED
}

fn key_file_error(path: &Path, e: KeyFileError) -> Error {
    match e {
        KeyFileError::Locked => Error::unavailable(SWARM_LOCKED),
        KeyFileError::WrongKey => Error::new(ErrorKind::Unauthorized, INVALID_UNLOCK_KEY),
        KeyFileError::NotLocked => Error::conflict(NOT_LOCKED),
        KeyFileError::Corrupt(m) => Error::internal(format!("reading {}: {m}", path.display())),
    }
}

/// The data keys and what the key file is sealed under now.
pub(crate) struct AtRest {
    keys: Arc<DataKeys>,
    kek: Mutex<Option<UnlockKey>>,
}

impl AtRest {
    pub(crate) fn new(secrets: &NodeSecrets, kek: Option<UnlockKey>) -> AtRest {
        AtRest {
            keys: DataKeys::new(secrets.dek.clone(), secrets.previous_dek.clone()),
            kek: Mutex::new(kek),
        }
    }

    pub(crate) fn keys(&self) -> Arc<DataKeys> {
        self.keys.clone()
    }
}

/// The Raft files, for re-sealing them under a new data key.
pub(crate) struct RaftFiles {
    pub(crate) log: LogStore,
    pub(crate) state: StateMachine,
}

/// Write the key file (TLS key + data key), sealed under `kek` when given.
pub(crate) fn write_key_file(
    path: &Path,
    secrets: &NodeSecrets,
    kek: Option<&UnlockKey>,
) -> Result<(), Error> {
    let text = keyfile::encode(secrets, kek).map_err(|e| key_file_error(path, e))?;
    write_synced(path, text.as_bytes())
}

/// Read the key file; a sealed one needs `kek`. Reads only.
pub(crate) fn read_key_file(path: &Path, kek: Option<&UnlockKey>) -> Result<NodeSecrets, Error> {
    keyfile::decode(&read(path)?, kek).map_err(|e| key_file_error(path, e))
}

impl Inner {
    /// Seal (or unseal) this manager's key file under the cluster's
    /// current unlock key if it is not already. Turning autolock on also
    /// moves the Raft data to a new data key, as swarmkit does: the old one
    /// was kept in the clear, so a copy taken before must not open what is
    /// written after.
    pub(crate) fn reconcile_unlock_key(&self) -> Result<(), Error> {
        let Some(want) = self
            .reader
            .read(|d| d.cluster.as_ref().map(|c| c.unlock_key.clone()))
        else {
            // A joining manager before it has the cluster object.
            return Ok(());
        };
        let keys = &self.at_rest.keys;
        let mut kek = self.at_rest.kek.lock().unwrap_or_else(|p| p.into_inner());
        if *kek == want && keys.previous().is_none() {
            return Ok(());
        }
        let path = super::Paths::new(&self.config.state_dir).key_file();
        let mut secrets = NodeSecrets {
            node_key_pem: self.node_cert_key_pem(),
            dek: keys.current(),
            previous_dek: keys.previous(),
        };
        let rotate = kek.is_none() && want.is_some() && secrets.previous_dek.is_none();
        if rotate {
            // On disk first: nothing is sealed under a key the file lacks.
            secrets.previous_dek = Some(secrets.dek.clone());
            secrets.dek = DataKey::generate();
        }
        write_key_file(&path, &secrets, want.as_ref())?;
        if rotate {
            keys.begin_rotation(secrets.dek.clone());
        }
        *kek = want;
        if secrets.previous_dek.take().is_some() {
            let storage = |e: crate::raft::StorageError| {
                Error::internal(format!("re-sealing the raft data: {e}"))
            };
            self.raft_files.log.reseal_all().map_err(storage)?;
            self.raft_files.state.reseal_all().map_err(storage)?;
            keys.finish_rotation();
            write_key_file(&path, &secrets, kek.as_ref())?;
        }
        Ok(())
    }

    fn node_cert_key_pem(&self) -> String {
        self.node
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .key_pem
            .clone()
    }
}

impl Manager {
    /// `swarm unlock`: start a locked manager with its unlock key. A key
    /// that is not `SWMKEY-1-...` is refused as swarmkit's "invalid key
    /// string" (400); a wrong key with [`INVALID_UNLOCK_KEY`] (401), a
    /// node that is not locked with [`NOT_LOCKED`] (409). Nothing on disk
    /// changes on a refusal.
    pub async fn unlock(config: ManagerConfig, key: &str) -> Result<Manager, Error> {
        let key: UnlockKey = key.parse()?;
        Self::open_with(config, Some(key)).await
    }

    /// `swarm unlock-key`: None when autolock is off (the CLI says "no
    /// unlock key is set").
    pub fn unlock_key(&self) -> Option<UnlockKey> {
        self.cluster().and_then(|c| c.unlock_key)
    }

    /// `swarm unlock-key --rotate`: a new key for every manager; the old
    /// one opens nothing once each manager has re-sealed (this one before
    /// returning, the others as they apply the change). None, and nothing
    /// changes, with autolock off (as swarmkit).
    pub async fn rotate_unlock_key(&self) -> Result<Option<UnlockKey>, Error> {
        let mut cluster = self.cluster().ok_or_else(super::propose::lost_quorum)?;
        if !cluster.spec.autolock {
            return Ok(None);
        }
        let key = UnlockKey::generate();
        cluster.unlock_key = Some(key.clone());
        cluster.meta.updated_at = super::join::now();
        let v = self
            .propose(Command::UpdateCluster(Box::new(cluster)))
            .await?;
        self.reseal_after(v).await?;
        Ok(Some(key))
    }

    /// `swarm update`: replace the cluster spec if `version` is the
    /// current one ("update out of sequence" otherwise). Turning autolock
    /// on makes an unlock key (read it with `unlock_key`), turning it off
    /// drops it; every manager's key file follows. Returns the new version.
    pub async fn update_cluster_spec(&self, version: u64, spec: ClusterSpec) -> Result<u64, Error> {
        let mut cluster = self.cluster().ok_or_else(super::propose::lost_quorum)?;
        cluster.meta.version = version;
        cluster.unlock_key = match (spec.autolock, cluster.unlock_key.take()) {
            (false, _) => None,
            (true, Some(k)) => Some(k),
            (true, None) => Some(UnlockKey::generate()),
        };
        cluster.spec = spec;
        cluster.meta.updated_at = super::join::now();
        let v = self
            .propose(Command::UpdateCluster(Box::new(cluster)))
            .await?;
        self.reseal_after(v).await?;
        Ok(v)
    }

    /// Once this manager has applied the write at `index` (a follower's
    /// forwarded write lands on the leader first), re-seal its key file.
    async fn reseal_after(&self, index: u64) -> Result<(), Error> {
        self.inner
            .raft
            .wait(Some(std::time::Duration::from_secs(3)))
            .applied_index_at_least(Some(index), "the unlock key change")
            .await
            .map_err(|e| Error::internal(format!("waiting to apply the unlock key: {e}")))?;
        self.inner.reconcile_unlock_key()
    }
}
