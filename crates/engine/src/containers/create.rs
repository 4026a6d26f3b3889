//! `POST /containers/create`: checks, the name, the read-write layer, the
//! mounts and the files a container starts with, then its record.

use berth_api::types::CreateBody;
use berth_api::{Error, Result};

use crate::containers::container::{self, now_rfc3339, Handle, Record, StateRecord};
use crate::containers::lifecycle::{
    apply_host_defaults, container_seccomp, familiar, validate_restart_policy, write_etc_files,
};
use crate::containers::resolve;
use crate::containers::Containers;
use crate::new_id;

impl Containers<'_> {
    /// `POST /containers/create`.
    pub fn create(&self, name: Option<&str>, body: CreateBody) -> Result<(String, Vec<String>)> {
        self.create_as(name, body, false)
    }

    /// A build step's container: marked so that, should the daemon die
    /// during the build, its next start removes it (`sweep_build_containers`).
    pub fn create_for_build(&self, body: CreateBody) -> Result<(String, Vec<String>)> {
        self.create_as(None, body, true)
    }

    /// A build keeps a failed step's container for inspection (docker's
    /// rule): from then on it is the user's, and no sweep removes it.
    pub fn keep_build_container(&self, id: &str) -> Result<()> {
        let h = self.lookup(id)?;
        h.with(|r| r.building = false);
        self.save(&h)
    }

    fn create_as(
        &self,
        name: Option<&str>,
        body: CreateBody,
        building: bool,
    ) -> Result<(String, Vec<String>)> {
        let CreateBody {
            mut config,
            mut host_config,
            networking_config,
        } = body;
        self.default_log_config(&mut host_config);
        apply_host_defaults(&mut host_config);
        self.choose_runtime(&mut host_config)?;
        crate::containers::logdriver::validate(
            &host_config.log_config.r#type,
            &host_config.log_config.config,
        )?;
        crate::containers::checks::create_request(&config, &host_config)?;
        if config.image.is_empty() {
            return Err(Error::invalid(
                "config cannot be empty in order to create a container",
            ));
        }
        let image = self.images.get(&config.image).map_err(|e| {
            if e.kind == berth_api::ErrorKind::NotFound {
                Error::not_found(format!("No such image: {}", familiar(&config.image)))
            } else {
                e
            }
        })?;
        if host_config.auto_remove
            && !host_config.restart_policy.name.is_empty()
            && host_config.restart_policy.name != "no"
        {
            return Err(Error::invalid(
                "can't create 'AutoRemove' container with restart policy",
            ));
        }
        validate_restart_policy(&host_config.restart_policy)?;
        // Checked now so a bad option or profile is a 400 here, not a failed start.
        container_seccomp(&host_config)?;
        crate::containers::devices::validate(&host_config)?;
        crate::containers::security::validate_sysctls(&host_config)?;
        let warnings = crate::containers::resources::verify(
            &mut host_config,
            &crate::containers::resources::HostCaps::read(),
            false,
        )?;
        let mut endpoints = self.networks().endpoints_for_create(
            &host_config.network_mode,
            networking_config.endpoints_config.as_ref(),
        )?;
        // `Config.MacAddress` (clients before API 1.44, `--mac-address` of
        // the docker CLI 20.10) is the MAC of the network-mode endpoint, as
        // moby takes it, unless that endpoint names its own.
        if let Some(mac) = Some(config.mac_address.as_str()).filter(|m| !m.is_empty()) {
            if let Some((_, ep)) = endpoints.first_mut() {
                if ep.mac_request.is_empty() {
                    crate::networks::check_mac(mac)?;
                    ep.mac_request = mac.to_string();
                }
            }
        }
        crate::networks::validate_port_bindings(&host_config)?;
        let id = new_id();
        // Held until the container is in the engine's map (or the create
        // failed): no other create or rename can take the name meanwhile.
        let reserved = match name.filter(|n| !n.is_empty()) {
            Some(n) => {
                if !container::valid_name(n) {
                    return Err(Error::invalid(format!(
                        "Invalid container name ({n}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
                    )));
                }
                self.reserve_name(&format!("/{}", n.trim_start_matches('/')), &id)?
            }
            None => self.reserve_generated(&id),
        };
        let name = reserved.name().to_string();
        if let Some(run) = &image.config.config {
            resolve::merge(&mut config, run);
        }
        if !config.working_dir.is_empty() && !config.working_dir.starts_with('/') {
            return Err(Error::invalid(format!(
                "the working directory '{}' is invalid, it needs to be an absolute path",
                config.working_dir
            )));
        }
        let (path, args) = resolve::entrypoint_and_args(&config)?;
        crate::containers::health::validate(config.healthcheck.as_ref())?;
        let host_mode = host_config.network_mode == "host";
        if config.hostname.is_empty() {
            config.hostname = if host_mode {
                nix::unistd::gethostname()
                    .map(|h| h.to_string_lossy().into_owned())
                    .unwrap_or_default()
            } else {
                id[..12].to_string()
            };
        }

        let (mount_points, new_volumes) = self.make_mounts(&config, &host_config)?;
        let dir = self.container_dir(&id);
        std::fs::create_dir_all(&dir)?;
        let made = (|| -> Result<()> {
            let layer = self.images.create_rw_layer(&id, Some(&image.id))?;
            berth_store::crash::point("create.rw-layer");
            self.populate_volumes(&layer, &mount_points)?;
            let resolv = self
                .networks()
                .resolv_conf(&container::network_mode(&host_config), &host_config);
            write_etc_files(
                &dir,
                &config.hostname,
                &config.domainname,
                host_mode,
                &resolv,
            )?;
            Ok(())
        })();
        if let Err(e) = made {
            let _ = self.images.remove_rw_layer(&id);
            let _ = std::fs::remove_dir_all(&dir);
            self.undo_volumes(&new_volumes);
            return Err(e);
        }
        let record = Record {
            id: id.clone(),
            name,
            created: now_rfc3339(),
            path,
            args,
            config,
            host_config,
            image_id: image.id.clone(),
            state: StateRecord::default(),
            restart_count: 0,
            stopped_by_user: false,
            shutdown_stop: false,
            endpoints,
            published: vec![],
            mount_points,
            runtime_named: true,
            building,
        };
        if let Err(e) = self
            .networks()
            .write_hosts(&record)
            .and_then(|_| self.db.put(&record))
        {
            let _ = self.images.remove_rw_layer(&id);
            let _ = std::fs::remove_dir_all(&dir);
            self.undo_volumes(&new_volumes);
            return Err(e);
        }
        self.record_event("create", &record, &[]);
        self.insert(Handle::new(record));
        drop(reserved);
        Ok((id, warnings))
    }
}
