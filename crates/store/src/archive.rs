//! `docker save` / `docker load` archives: docker-archive (the classic
//! `manifest.json` + `<id>/layer.tar` layout and docker 25+'s OCI layout
//! inside) and plain OCI image layouts, several images per archive.
//!
//! The archive is untrusted: its entries are spooled to numbered temp files
//! and looked up by name; no name is ever used as a path on disk. Layers are
//! verified against the config's diff ids. A failed load leaves no image.

use std::collections::HashMap;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use berth_api::{Error, Reference, Result};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::layers::Holds;
use crate::{config::ImageConfig, sha256_hex, unpack::clean_path, Image, ImageStore};

const MAX_JSON: u64 = 8 << 20;

#[derive(Deserialize, Serialize)]
struct ManifestItem {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags", default)]
    repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers", default)]
    layers: Vec<String>,
}

fn bad(why: impl std::fmt::Display) -> Error {
    Error::invalid(format!("invalid archive: {why}"))
}

/// The archive's files by cleaned name, spooled into `dir`.
struct Spooled {
    dir: PathBuf,
    files: HashMap<String, PathBuf>,
    links: HashMap<String, String>,
}

impl Spooled {
    fn read(src: &mut dyn Read, dir: PathBuf) -> Result<Spooled> {
        fs::create_dir_all(&dir)?;
        let mut s = Spooled {
            dir,
            files: HashMap::new(),
            links: HashMap::new(),
        };
        let mut archive = tar::Archive::new(src);
        let entries = archive.entries().map_err(bad)?;
        for (n, entry) in entries.enumerate() {
            let mut entry = entry.map_err(bad)?;
            let raw = entry.path().map_err(bad)?.into_owned();
            let name = clean_path(&raw)
                .map_err(|_| bad(format!("entry {:?} leaves the archive root", raw.display())))?;
            let name = name.to_string_lossy().into_owned();
            match entry.header().entry_type() {
                tar::EntryType::Regular | tar::EntryType::Continuous => {
                    let path = s.dir.join(n.to_string());
                    let mut f = fs::File::create(&path)?;
                    std::io::copy(&mut entry, &mut f).map_err(bad)?;
                    s.files.insert(name, path);
                }
                tar::EntryType::Symlink | tar::EntryType::Link => {
                    let target = entry
                        .link_name()
                        .map_err(bad)?
                        .ok_or_else(|| bad("link without target"))?
                        .into_owned();
                    let base = if entry.header().entry_type() == tar::EntryType::Symlink {
                        Path::new(&name)
                            .parent()
                            .unwrap_or(Path::new(""))
                            .join(&target)
                    } else {
                        target.clone()
                    };
                    let resolved = normalize(&base).ok_or_else(|| {
                        bad(format!(
                            "link {name:?} -> {:?} leaves the archive root",
                            target.display()
                        ))
                    })?;
                    s.links.insert(name, resolved);
                }
                _ => {}
            }
        }
        Ok(s)
    }

    fn path(&self, name: &str) -> Result<&Path> {
        let clean = normalize(Path::new(name))
            .ok_or_else(|| bad(format!("path {name:?} leaves the archive root")))?;
        let mut key = clean;
        for _ in 0..8 {
            if let Some(p) = self.files.get(&key) {
                return Ok(p);
            }
            match self.links.get(&key) {
                Some(next) => key = next.clone(),
                None => break,
            }
        }
        Err(bad(format!("{name} is missing")))
    }

    fn json<T: serde::de::DeserializeOwned>(&self, name: &str) -> Result<(T, Vec<u8>)> {
        let p = self.path(name)?;
        if fs::metadata(p)?.len() > MAX_JSON {
            return Err(bad(format!("{name} is too large")));
        }
        let bytes = fs::read(p)?;
        let v = serde_json::from_slice(&bytes).map_err(|e| bad(format!("{name}: {e}")))?;
        Ok((v, bytes))
    }
}

/// Cleans `a/../b` inside the archive; `None` when it climbs out.
fn normalize(p: &Path) -> Option<String> {
    let mut parts: Vec<String> = Vec::new();
    for c in p.components() {
        match c {
            std::path::Component::Normal(x) => parts.push(x.to_string_lossy().into_owned()),
            std::path::Component::ParentDir => {
                parts.pop()?;
            }
            std::path::Component::CurDir => {}
            _ => return None,
        }
    }
    Some(parts.join("/"))
}

pub(crate) fn load(
    store: &ImageStore,
    src: &mut dyn Read,
    progress: &mut dyn FnMut(String),
    holds: &mut Holds<'_>,
) -> Result<()> {
    let dir = store
        .root
        .join("image/tmp")
        .join(format!("load-{:016x}", rand::random::<u64>()));
    let result =
        Spooled::read(src, dir.clone()).and_then(|s| load_spooled(store, &s, progress, holds));
    let _ = fs::remove_dir_all(&dir);
    result
}

fn load_spooled(
    store: &ImageStore,
    s: &Spooled,
    progress: &mut dyn FnMut(String),
    holds: &mut Holds<'_>,
) -> Result<()> {
    // Parse and check everything before committing any image.
    let mut plans: Vec<(Vec<u8>, Vec<String>, Vec<Reference>)> = Vec::new();
    if s.files.contains_key("manifest.json") {
        let (items, _): (Vec<ManifestItem>, _) = s.json("manifest.json")?;
        if items.is_empty() {
            return Err(bad("manifest.json lists no image"));
        }
        for item in items {
            let (_, config_bytes): (ImageConfig, _) = s.json(&item.config)?;
            let tags = item
                .repo_tags
                .unwrap_or_default()
                .iter()
                .map(|t| Reference::parse_with_default_tag(t))
                .collect::<Result<Vec<_>>>()?;
            plans.push((config_bytes, item.layers, tags));
        }
    } else if s.files.contains_key("index.json") {
        let (index, _): (serde_json::Value, _) = s.json("index.json")?;
        for desc in descriptors(s, &index, 0)? {
            let digest = desc["digest"].as_str().unwrap_or("");
            let (manifest, _): (serde_json::Value, _) = s.json(&blob_name(digest)?)?;
            let config_digest = manifest["config"]["digest"].as_str().unwrap_or("");
            let (_, config_bytes): (ImageConfig, _) = s.json(&blob_name(config_digest)?)?;
            let layers = manifest["layers"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|l| blob_name(l["digest"].as_str().unwrap_or("")))
                        .collect::<Result<Vec<_>>>()
                })
                .transpose()?
                .unwrap_or_default();
            let annotations = &desc["annotations"];
            let tags = annotations["io.containerd.image.name"]
                .as_str()
                .or_else(|| {
                    annotations["org.opencontainers.image.ref.name"]
                        .as_str()
                        .filter(|r| r.contains(':') || r.contains('/'))
                })
                .map(Reference::parse_with_default_tag)
                .transpose()?
                .into_iter()
                .collect();
            plans.push((config_bytes, layers, tags));
        }
    } else {
        return Err(bad("neither manifest.json nor index.json found"));
    }
    if plans.is_empty() {
        return Err(bad("the archive holds no image"));
    }
    // Every layer of every image first (verified against the configs'
    // diff ids), then all images and tags in one transaction.
    for (config_bytes, layers, _) in &plans {
        let config: ImageConfig =
            serde_json::from_slice(config_bytes).map_err(|e| bad(format!("image config: {e}")))?;
        if config.rootfs.diff_ids.len() != layers.len() {
            return Err(bad(format!(
                "the image has {} layers but its config lists {}",
                layers.len(),
                config.rootfs.diff_ids.len()
            )));
        }
        let mut parent: Option<String> = None;
        for (layer, want) in layers.iter().zip(&config.rootfs.diff_ids) {
            let mut f = fs::File::open(s.path(layer)?)?;
            let spooled = store.spool_layer(&mut f)?;
            if &spooled.diff_id != want {
                return Err(bad(format!(
                    "layer {layer} has digest {} but the config expects {want}",
                    spooled.diff_id
                )));
            }
            parent = Some(store.register_layer(spooled, parent.as_deref(), holds)?);
            crate::crash::point("load.layer-registered");
        }
    }
    let mut messages = Vec::new();
    for (config_bytes, _, tags) in &plans {
        let id = format!("sha256:{}", sha256_hex(config_bytes));
        for t in tags {
            if let Some(prev) = store.tag_target(t)? {
                if prev != id {
                    messages.push(format!(
                        "The image {} already exists, renaming the old one with ID {prev} to empty string",
                        t.familiar_string()
                    ));
                }
            }
        }
        if tags.is_empty() {
            messages.push(format!("Loaded image ID: {id}"));
        }
        for t in tags {
            messages.push(format!("Loaded image: {}", t.familiar_string()));
        }
    }
    let commits: Vec<(Vec<u8>, Vec<Reference>)> = plans
        .into_iter()
        .map(|(config, _, tags)| (config, tags))
        .collect();
    store.commit_images(&commits)?;
    for m in messages {
        progress(m);
    }
    Ok(())
}

/// Image manifests of an OCI index (following nested indexes, preferring this platform).
fn descriptors(
    s: &Spooled,
    index: &serde_json::Value,
    depth: u32,
) -> Result<Vec<serde_json::Value>> {
    if depth > 4 {
        return Err(bad("indexes nested too deeply"));
    }
    let mut out = Vec::new();
    for d in index["manifests"].as_array().cloned().unwrap_or_default() {
        let mt = d["mediaType"].as_str().unwrap_or("");
        if mt.contains("index") || mt.contains("manifest.list") {
            let (inner, _): (serde_json::Value, _) =
                s.json(&blob_name(d["digest"].as_str().unwrap_or(""))?)?;
            let mut found = descriptors(s, &inner, depth + 1)?;
            let mine: Vec<_> = found
                .iter()
                .filter(|m| {
                    m["platform"]["architecture"]
                        .as_str()
                        .is_none_or(|a| a == crate::arch())
                })
                .cloned()
                .collect();
            if let Some(first) = mine.into_iter().next() {
                found = vec![first];
            }
            for mut f in found {
                if f.get("annotations").is_none() {
                    f["annotations"] = d["annotations"].clone();
                }
                out.push(f);
            }
        } else {
            out.push(d);
        }
    }
    Ok(out)
}

fn blob_name(digest: &str) -> Result<String> {
    berth_api::reference::validate_digest(digest)
        .map_err(|_| bad(format!("bad digest {digest:?}")))?;
    Ok(format!("blobs/sha256/{}", &digest[7..]))
}

/// The images `names` select, in order, each with the tags to record:
/// a tagged reference records that tag, a bare repository name all of its
/// tags, an id none (as dockerd's `docker save`).
fn select(store: &ImageStore, names: &[String]) -> Result<Vec<(Image, Vec<Reference>)>> {
    let mut out: Vec<(Image, Vec<Reference>)> = Vec::new();
    let add = |out: &mut Vec<(Image, Vec<Reference>)>, img: Image, tag: Option<Reference>| {
        let i = match out.iter().position(|(o, _)| o.id == img.id) {
            Some(i) => i,
            None => {
                out.push((img, Vec::new()));
                out.len() - 1
            }
        };
        if let Some(t) = tag {
            if !out[i].1.contains(&t) {
                out[i].1.push(t);
            }
        }
    };
    for n in names {
        if let Ok(r) = Reference::parse(n) {
            if r.tag.is_none() && r.digest.is_none() {
                let tags = store.tags_of_repo(&r)?;
                if !tags.is_empty() {
                    for (t, id) in tags {
                        let img = store.get(&id)?;
                        add(&mut out, img, Some(t));
                    }
                    continue;
                }
            }
        }
        let img = store.get(n)?;
        let id = store.resolve_id(n)?;
        let by_reference = Reference::parse_with_default_tag(n)
            .ok()
            .filter(|r| r.digest.is_none())
            .filter(|r| store.tag_target(r).ok().flatten().as_deref() == Some(id.as_str()));
        add(&mut out, img, by_reference);
    }
    Ok(out)
}

pub fn save(store: &ImageStore, names: &[String], dst: &mut dyn Write) -> Result<()> {
    if names.is_empty() {
        return Err(Error::invalid("no image names given"));
    }
    let images = select(store, names)?;
    let mut b = tar::Builder::new(dst);
    let mut written = std::collections::HashSet::new();
    let mut manifest_items = Vec::new();
    let mut index_manifests = Vec::new();
    let mut repositories = serde_json::Map::new();
    let add = |b: &mut tar::Builder<&mut dyn Write>,
               name: &str,
               data: &mut dyn Read,
               size: u64|
     -> Result<()> {
        let mut h = tar::Header::new_ustar();
        h.set_size(size);
        h.set_mode(0o644);
        h.set_mtime(0);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, name, data)
            .map_err(|e| Error::internal(format!("writing the archive: {e}")))
    };
    for dir in ["blobs/", "blobs/sha256/"] {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(0o755);
        h.set_size(0);
        h.set_mtime(0);
        b.append_data(&mut h, dir, std::io::empty())
            .map_err(|e| Error::internal(format!("writing the archive: {e}")))?;
    }
    for (img, tags) in &images {
        let config_name = format!("blobs/sha256/{}", &img.id[7..]);
        if written.insert(config_name.clone()) {
            add(
                &mut b,
                &config_name,
                &mut &img.raw_config[..],
                img.raw_config.len() as u64,
            )?;
        }
        let mut layer_descs = Vec::new();
        let mut layer_names = Vec::new();
        for d in &img.diff_ids {
            let name = format!("blobs/sha256/{}", &d[7..]);
            let path = store.layer_blob(d);
            let size = fs::metadata(&path)
                .map_err(|e| Error::internal(format!("layer {d}: {e}")))?
                .len();
            if written.insert(name.clone()) {
                let mut f = fs::File::open(&path)?;
                add(&mut b, &name, &mut f, size)?;
            }
            layer_descs.push(json!({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d, "size": size}));
            layer_names.push(name);
        }
        let manifest = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": img.id, "size": img.raw_config.len()},
            "layers": layer_descs,
        }))
        .map_err(|e| Error::internal(e.to_string()))?;
        let manifest_digest = format!("sha256:{}", sha256_hex(&manifest));
        let manifest_name = format!("blobs/sha256/{}", &manifest_digest[7..]);
        if written.insert(manifest_name.clone()) {
            add(
                &mut b,
                &manifest_name,
                &mut &manifest[..],
                manifest.len() as u64,
            )?;
        }
        let desc = json!({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": manifest_digest, "size": manifest.len()});
        if tags.is_empty() {
            index_manifests.push(desc.clone());
        }
        for t in tags {
            let mut desc = desc.clone();
            desc["annotations"] = json!({
                "io.containerd.image.name": t.to_string(),
                "org.opencontainers.image.ref.name": t.tag.clone().unwrap_or_default(),
            });
            index_manifests.push(desc);
            if let Some(top) = img.diff_ids.last() {
                if let Some(m) = repositories
                    .entry(t.familiar_name())
                    .or_insert_with(|| json!({}))
                    .as_object_mut()
                {
                    m.insert(t.tag.clone().unwrap_or_default(), json!(&top[7..]));
                }
            }
        }
        manifest_items.push(ManifestItem {
            config: config_name,
            repo_tags: if tags.is_empty() {
                None
            } else {
                Some(tags.iter().map(|t| t.familiar_string()).collect())
            },
            layers: layer_names,
        });
    }
    let index = serde_json::to_vec(&json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": index_manifests}))
        .map_err(|e| Error::internal(e.to_string()))?;
    add(&mut b, "index.json", &mut &index[..], index.len() as u64)?;
    let manifest =
        serde_json::to_vec(&manifest_items).map_err(|e| Error::internal(e.to_string()))?;
    add(
        &mut b,
        "manifest.json",
        &mut &manifest[..],
        manifest.len() as u64,
    )?;
    let layout = br#"{"imageLayoutVersion":"1.0.0"}"#;
    add(&mut b, "oci-layout", &mut &layout[..], layout.len() as u64)?;
    if !repositories.is_empty() {
        let repos =
            serde_json::to_vec(&repositories).map_err(|e| Error::internal(e.to_string()))?;
        add(&mut b, "repositories", &mut &repos[..], repos.len() as u64)?;
    }
    b.finish()
        .map_err(|e| Error::internal(format!("writing the archive: {e}")))?;
    Ok(())
}
