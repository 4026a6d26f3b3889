//! The volumes service: dockerd's `local` driver (the store is in
//! `store.rs`) as `/volumes`, `/volumes/prune` and `/system/df` show it.

mod store;

pub use store::{
    check_name, check_options, is_mountpoint, VolumeRecord, VolumeStore, ANONYMOUS_LABEL,
};

use berth_api::views::{Volume, VolumeListResponse, VolumePruneResponse, VolumeUsageData};
use berth_api::{Error, Result};
use indexmap::IndexMap;

use crate::Filters;

service! {
    /// `engine.volumes()`: named and anonymous volumes.
    Volumes
}

impl Volumes<'_> {
    /// The API's `Volume` object; `usage` (size, reference count) for
    /// `/system/df` only.
    pub fn view(&self, v: &VolumeRecord, usage: Option<(i64, i64)>) -> Volume {
        Volume {
            created_at: v.created_at.clone(),
            driver: v.driver.clone(),
            labels: sorted(&v.labels),
            mountpoint: self.volumes.data_path(&v.name).display().to_string(),
            name: v.name.clone(),
            options: sorted(&v.options),
            scope: "local".into(),
            status: None,
            usage_data: usage.map(|(size, ref_count)| VolumeUsageData { ref_count, size }),
        }
    }

    /// `POST /volumes/create`.
    pub fn create(
        &self,
        name: Option<&str>,
        driver: Option<&str>,
        labels: IndexMap<String, String>,
        options: IndexMap<String, String>,
    ) -> Result<Volume> {
        let driver = driver.filter(|d| !d.is_empty()).unwrap_or("local");
        if driver != "local" {
            let v = self.create_on_plugin(name, driver, labels, options)?;
            return self.inspect_on_plugin(&v);
        }
        let v = self.volumes.create(name, labels, options)?;
        // As dockerd: every create sends the event, of a new volume or not.
        self.event("create", &v.name);
        Ok(self.view(&v, None))
    }

    pub(crate) fn event(&self, action: &str, name: &str) {
        self.events.publish(
            "volume",
            action,
            name,
            IndexMap::from([("driver".to_string(), "local".to_string())]),
        );
    }

    /// `GET /volumes/{name}`.
    pub fn inspect(&self, name: &str) -> Result<Volume> {
        let v = self.volumes.get(name)?;
        if v.driver != "local" {
            return self.inspect_on_plugin(&v);
        }
        Ok(self.view(&v, None))
    }

    /// `GET /volumes?filters=`: `dangling`, `name`, `label`, `driver`.
    pub fn list(&self, filters: &Filters) -> Result<VolumeListResponse> {
        filters
            .validate(&["dangling", "name", "label", "driver"])
            .map_err(|e| Error::invalid(e.message.replace("invalid filter", "Invalid filter")))?;
        let mut wanted = Vec::new();
        for v in self.volumes.list()? {
            if self.matches(&v, filters)? {
                wanted.push(v);
            }
        }
        let (mut out, warnings) = self.list_on_plugins(&wanted);
        out.extend(
            wanted
                .iter()
                .filter(|v| v.driver == "local")
                .map(|v| self.view(v, None)),
        );
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(VolumeListResponse {
            volumes: out,
            warnings: (!warnings.is_empty()).then_some(warnings),
        })
    }

    fn matches(&self, v: &VolumeRecord, f: &Filters) -> Result<bool> {
        for d in f.get("dangling") {
            let want = match d.as_str() {
                "true" | "1" => true,
                "false" | "0" => false,
                other => return Err(Error::invalid(format!("invalid filter 'dangling={other}'"))),
            };
            if self.containers().volume_users(&v.name).is_empty() != want {
                return Ok(false);
            }
        }
        let names = f.get("name");
        if !names.is_empty() && !names.iter().any(|n| v.name.contains(n.as_str())) {
            return Ok(false);
        }
        let drivers = f.get("driver");
        if !drivers.is_empty() && !drivers.contains(&v.driver) {
            return Ok(false);
        }
        Ok(labels_match(&v.labels, f))
    }

    /// `DELETE /volumes/{name}?force=`: 409 while a container uses it.
    pub fn remove(&self, name: &str, force: bool) -> Result<()> {
        let Ok(v) = self.volumes.get(name) else {
            if force {
                return Ok(());
            }
            return Err(Error::not_found(format!("get {name}: no such volume")));
        };
        let users = self.containers().volume_users(name);
        if !users.is_empty() {
            return Err(Error::conflict(format!(
                "remove {name}: volume is in use - [{}]",
                users.join(", ")
            )));
        }
        if v.driver != "local" {
            return match self.remove_on_plugin(&v) {
                // dockerd's `-f` forgets a volume whose plugin is gone.
                Err(_) if force => self.volumes.delete_record(name),
                r => r,
            };
        }
        self.volumes.remove(name)?;
        self.event("destroy", name);
        Ok(())
    }

    /// `POST /volumes/prune`: unused anonymous volumes, or every unused
    /// one with `all=true` (always below API 1.42, as dockerd).
    pub fn prune(&self, filters: &Filters, all_by_default: bool) -> Result<VolumePruneResponse> {
        filters
            .validate(&["label", "label!", "all"])
            .map_err(|e| Error::invalid(e.message.replace("invalid filter", "Invalid filter")))?;
        let mut all = all_by_default;
        for a in filters.get("all") {
            all = match a.as_str() {
                "true" | "1" => true,
                "false" | "0" => false,
                other => {
                    return Err(Error::invalid(format!(
                        "invalid filter 'all={other}': invalid value"
                    )))
                }
            };
        }
        let mut deleted = Vec::new();
        let mut reclaimed = 0i64;
        for v in self.volumes.list()? {
            if !all && !v.anonymous() {
                continue;
            }
            if !labels_match(&v.labels, filters)
                || !self.containers().volume_users(&v.name).is_empty()
            {
                continue;
            }
            let size = self.volumes.size(&v.name);
            if self.remove(&v.name, false).is_ok() {
                reclaimed += size;
                deleted.push(v.name.clone());
            }
        }
        self.events.publish(
            "volume",
            "prune",
            "",
            IndexMap::from([("reclaimed".to_string(), reclaimed.to_string())]),
        );
        Ok(VolumePruneResponse {
            volumes_deleted: (!deleted.is_empty()).then_some(deleted),
            space_reclaimed: reclaimed,
        })
    }

    /// The `Volumes` list of `/system/df`, with sizes and reference counts.
    pub fn usage(&self) -> Result<Vec<Volume>> {
        let mut out = Vec::new();
        for v in self.volumes.list()?.iter().filter(|v| v.driver == "local") {
            let refs = self.containers().volume_users(&v.name).len() as i64;
            out.push(self.view(v, Some((self.volumes.size(&v.name), refs))));
        }
        Ok(out)
    }
}

/// A stored map as the API prints it: sorted (Go's map order), `null`
/// when empty (a nil Go map).
fn sorted(m: &IndexMap<String, String>) -> Option<std::collections::BTreeMap<String, String>> {
    (!m.is_empty()).then(|| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
}

/// `label=k`, `label=k=v`, `label!=k`, `label!=k=v`.
fn labels_match(labels: &IndexMap<String, String>, f: &Filters) -> bool {
    let has = |l: &str| match l.split_once('=') {
        Some((k, v)) => labels.get(k).is_some_and(|x| x == v),
        None => labels.contains_key(l),
    };
    f.get("label").iter().all(|l| has(l)) && !f.get("label!").iter().any(|l| has(l))
}
