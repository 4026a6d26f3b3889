//! openraft's own conformance suite for storage, run on our SQLite log
//! store and state machine (each case on fresh files in a temp dir).

use berth_swarm::lock::{DataKey, DataKeys};
use berth_swarm::raft::log_store::LogStore;
use berth_swarm::raft::state_machine::StateMachine;
use berth_swarm::raft::{StorageError, TypeConfig};
use openraft::testing::{StoreBuilder, Suite};

struct SqliteStores;

impl StoreBuilder<TypeConfig, LogStore, StateMachine, tempfile::TempDir> for SqliteStores {
    async fn build(&self) -> Result<(tempfile::TempDir, LogStore, StateMachine), StorageError> {
        let dir = tempfile::tempdir().expect("tempdir");
        let keys = DataKeys::new(DataKey::generate(), None);
        let log = LogStore::open(&dir.path().join("raft-log.db"), keys.clone())?;
        let sm = StateMachine::open(&dir.path().join("raft-state.db"), keys)?;
        Ok((dir, log, sm))
    }
}

#[test]
fn openraft_storage_suite_passes() {
    Suite::test_all(SqliteStores).expect("openraft's storage suite");
}
