//! Container names: the generated `adjective_surname` names (docker's
//! space: about a hundred adjectives by some two hundred and forty
//! surnames, so concurrent creates rarely meet), and the reservation that
//! makes taking a name atomic with the create that takes it.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use berth_api::{Error, Result};

use crate::containers::Containers;
use crate::Engine;

/// Our own lists (not moby's file: any two large lists give the space),
/// one word per whitespace: adjectives, and surnames of scientists,
/// engineers and mathematicians.
static ADJECTIVES: LazyLock<Vec<&str>> = LazyLock::new(|| {
    include_str!("names/adjectives.txt")
        .split_whitespace()
        .collect()
});
static SURNAMES: LazyLock<Vec<&str>> = LazyLock::new(|| {
    include_str!("names/surnames.txt")
        .split_whitespace()
        .collect()
});

/// A fresh generated name (with the leading `/`). After a clash the
/// caller asks again with a higher `retry`, which adds a digit, as dockerd's
/// generator does.
pub(crate) fn random_name(retry: u32) -> String {
    let l = ADJECTIVES[rand::random_range(0..ADJECTIVES.len())];
    let r = SURNAMES[rand::random_range(0..SURNAMES.len())];
    if retry > 0 {
        return format!("/{l}_{r}{}", rand::random_range(0..10));
    }
    format!("/{l}_{r}")
}

/// Names taken by creates still in flight (name -> container id): checked
/// together with the containers' names under one lock, so two creates can
/// never both take a name.
#[derive(Default)]
pub(crate) struct Reservations(Mutex<HashMap<String, String>>);

/// A name held for a create in flight; released when dropped (by then the
/// container is in the engine's map, or the create failed).
pub(crate) struct Reserved<'a> {
    engine: &'a Engine,
    name: String,
}

impl Reserved<'_> {
    /// The name held, with its `/`.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for Reserved<'_> {
    fn drop(&mut self) {
        self.engine
            .names
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.name);
    }
}

pub(crate) fn conflict(name: &str, owner: &str) -> Error {
    Error::conflict(format!(
        "Conflict. The container name \"{name}\" is already in use by container \"{owner}\". You have to remove (or rename) that container to be able to reuse that name."
    ))
}

impl Containers<'_> {
    /// Takes `name` (with its `/`) for container `id`, or answers dockerd's
    /// 409 naming the holder.
    pub(crate) fn reserve_name(&self, name: &str, id: &str) -> Result<Reserved<'_>> {
        let mut held = self.names.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(owner) = held.get(name).cloned().or_else(|| self.name_owner(name)) {
            return Err(conflict(name, &owner));
        }
        held.insert(name.to_string(), id.to_string());
        Ok(Reserved {
            engine: self,
            name: name.to_string(),
        })
    }

    /// A generated name, reserved for `id`: tries again on a clash.
    pub(crate) fn reserve_generated(&self, id: &str) -> Reserved<'_> {
        let mut retry = 0;
        loop {
            if let Ok(r) = self.reserve_name(&random_name(retry), id) {
                return r;
            }
            retry += 1;
        }
    }

    /// Renames under the reservation lock, so a rename and a create cannot
    /// both take one name.
    pub(crate) fn take_name_for_rename(
        &self,
        name: &str,
        h: &crate::containers::container::Handle,
    ) -> Result<()> {
        let held = self.names.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(owner) = held.get(name).cloned().or_else(|| self.name_owner(name)) {
            return Err(conflict(name, &owner));
        }
        h.with(|r| r.name = name.to_string());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_space_is_large_and_names_are_valid() {
        assert!(ADJECTIVES.len() >= 100, "{}", ADJECTIVES.len());
        assert!(SURNAMES.len() >= 230, "{}", SURNAMES.len());
        let a: std::collections::HashSet<_> = ADJECTIVES.iter().collect();
        assert!(
            ADJECTIVES
                .iter()
                .chain(SURNAMES.iter())
                .all(|w| w.bytes().all(|b| b.is_ascii_lowercase())),
            "lowercase words only"
        );
        let s: std::collections::HashSet<_> = SURNAMES.iter().collect();
        assert_eq!(a.len(), ADJECTIVES.len(), "duplicate adjective");
        assert_eq!(s.len(), SURNAMES.len(), "duplicate surname");
        for retry in [0, 1] {
            let n = random_name(retry);
            assert!(
                crate::containers::container::valid_name(n.trim_start_matches('/')),
                "{n}"
            );
        }
    }
}
