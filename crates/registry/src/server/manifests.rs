//! Manifests: get, put (with the references a manifest must have in
//! its repository), delete, and the referrers API.

use super::*;

pub(crate) fn parse_reference(reference: &str, for_put: bool) -> Result<Reference> {
    if reference.contains(':') {
        return Digest::parse(reference)
            .map(Reference::Digest)
            .map_err(|e| err(Code::DigestInvalid, e.to_string()));
    }
    if valid_tag(reference) {
        Ok(Reference::Tag(reference.to_string()))
    } else if for_put {
        Err(err(Code::TagInvalid, format!("invalid tag {reference:?}"))
            .with_detail(json!({ "tag": reference })))
    } else {
        Err(err(
            Code::ManifestUnknown,
            format!("manifest unknown: {reference}"),
        ))
    }
}

pub(super) async fn get_manifest(
    reg: &Arc<Registry>,
    name: &str,
    reference: &str,
    head: bool,
) -> std::result::Result<Response<Body>, Reply> {
    let r = parse_reference(reference, false)?;
    let s = reg.storage.clone();
    let (n, r2) = (name.to_string(), r.clone());
    let Some(m) = blocking(move || s.get_manifest(&n, &r2)).await? else {
        if !reg.storage.repo_exists(name) {
            return Err(name_unknown(name).into());
        }
        return Err(err(
            Code::ManifestUnknown,
            format!("manifest unknown: {reference}"),
        )
        .with_detail(json!({ "Tag": reference }))
        .into());
    };
    let b = builder(StatusCode::OK)
        .header(CONTENT_TYPE, m.media_type.as_str())
        .header("Content-Length", m.bytes.len())
        .header("Docker-Content-Digest", m.digest.to_string())
        .header("Etag", format!("\"{}\"", m.digest));
    Ok(finish(
        b,
        if head {
            empty_body()
        } else {
            full_body(m.bytes)
        },
    ))
}

/// The digests a manifest names: (blobs that must be in the repository,
/// manifests that must be in the repository, subject).
pub(crate) struct ManifestRefs {
    blobs: Vec<Digest>,
    manifests: Vec<Digest>,
    subject: Option<Digest>,
}

pub(super) fn descriptor_digest(d: &Value, what: &str) -> Result<Digest> {
    let invalid = |m: String| err(Code::ManifestInvalid, m);
    let obj = d
        .as_object()
        .ok_or_else(|| invalid(format!("{what} is not a descriptor")))?;
    let digest = obj
        .get("digest")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(format!("{what} has no digest")))?;
    if obj.get("size").is_none_or(|s| s.as_u64().is_none()) {
        return Err(invalid(format!("{what} has no valid size")));
    }
    if !obj.get("mediaType").is_some_and(Value::is_string) {
        return Err(invalid(format!("{what} has no mediaType")));
    }
    Digest::parse(digest).map_err(|e| invalid(format!("{what}: {e}")))
}

pub(super) fn is_foreign(d: &Value) -> bool {
    let mt = d.get("mediaType").and_then(Value::as_str).unwrap_or("");
    let has_urls = d
        .get("urls")
        .and_then(Value::as_array)
        .is_some_and(|u| !u.is_empty());
    has_urls && (mt.contains("foreign") || mt.contains("nondistributable"))
}

/// Reads what a manifest of `media_type` references, refusing malformed ones.
pub(crate) fn manifest_refs(media_type: &str, v: &Value) -> Result<ManifestRefs> {
    let invalid = |m: &str| err(Code::ManifestInvalid, m.to_string());
    if !v.is_object() {
        return Err(invalid("manifest is not a JSON object"));
    }
    if v.get("schemaVersion").and_then(Value::as_u64) != Some(2) {
        return Err(invalid("manifest schemaVersion must be 2"));
    }
    let mut refs = ManifestRefs {
        blobs: vec![],
        manifests: vec![],
        subject: None,
    };
    match media_type {
        MT_DOCKER_MANIFEST | MT_OCI_MANIFEST => {
            let config = v
                .get("config")
                .ok_or_else(|| invalid("manifest has no config"))?;
            refs.blobs.push(descriptor_digest(config, "config")?);
            let layers = v
                .get("layers")
                .and_then(Value::as_array)
                .ok_or_else(|| invalid("manifest has no layers array"))?;
            for (i, l) in layers.iter().enumerate() {
                let d = descriptor_digest(l, &format!("layer {i}"))?;
                if !is_foreign(l) {
                    refs.blobs.push(d);
                }
            }
        }
        MT_DOCKER_LIST | MT_OCI_INDEX => {
            let ms = v
                .get("manifests")
                .and_then(Value::as_array)
                .ok_or_else(|| invalid("index has no manifests array"))?;
            for (i, m) in ms.iter().enumerate() {
                refs.manifests
                    .push(descriptor_digest(m, &format!("manifest {i}"))?);
            }
        }
        mt if MT_SCHEMA1.contains(&mt) => {
            return Err(invalid(
                "schema 1 manifests are not supported: push schema 2 or OCI",
            ))
        }
        mt => return Err(invalid(&format!("unsupported manifest media type {mt:?}"))),
    }
    if let Some(s) = v.get("subject") {
        refs.subject = Some(descriptor_digest(s, "subject")?);
    }
    Ok(refs)
}

pub(super) async fn read_limited(req: Request<Incoming>, limit: usize) -> Result<Bytes> {
    let body = http_body_util::Limited::new(req.into_body(), limit);
    match body.collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) => {
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                Err(err(
                    Code::SizeInvalid,
                    format!("manifest larger than {limit} bytes"),
                ))
            } else {
                Err(err(Code::ManifestInvalid, format!("reading the body: {e}")))
            }
        }
    }
}

pub(super) async fn put_manifest(
    reg: &Arc<Registry>,
    name: &str,
    reference: &str,
    req: Request<Incoming>,
) -> std::result::Result<Response<Body>, Reply> {
    let r = parse_reference(reference, true)?;
    let content_type = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .unwrap_or_default();
    let bytes = read_limited(req, MAX_MANIFEST_SIZE).await?;
    let v: Value = serde_json::from_slice(&bytes).map_err(|e| {
        err(
            Code::ManifestInvalid,
            format!("manifest is not valid JSON: {e}"),
        )
    })?;
    let field = v
        .get("mediaType")
        .and_then(Value::as_str)
        .map(str::to_string);
    let known = [
        MT_DOCKER_MANIFEST,
        MT_DOCKER_LIST,
        MT_OCI_MANIFEST,
        MT_OCI_INDEX,
    ];
    let base_ct = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_string();
    let media_type = if known.contains(&base_ct.as_str()) || MT_SCHEMA1.contains(&base_ct.as_str())
    {
        if let Some(f) = &field {
            if f != &base_ct {
                return Err(err(
                    Code::ManifestInvalid,
                    format!(
                        "mediaType {f:?} in the manifest does not match Content-Type {base_ct:?}"
                    ),
                )
                .into());
            }
        }
        base_ct.clone()
    } else if let Some(f) = field {
        f
    } else if v.get("manifests").is_some() {
        MT_OCI_INDEX.to_string()
    } else {
        MT_OCI_MANIFEST.to_string()
    };
    let refs = manifest_refs(&media_type, &v)?;
    let digest = Digest::of(&bytes);
    if let Reference::Digest(d) = &r {
        if d != &digest {
            return Err(err(
                Code::DigestInvalid,
                format!("the manifest's digest is {digest}, not {d}"),
            )
            .with_detail(json!({ "digest": d.to_string() }))
            .into());
        }
    }
    // Everything named must already be here: the manifest never becomes
    // visible before what it points to.
    for b in &refs.blobs {
        if reg.storage.repo_blob_size(name, b).is_none() {
            return Err(err(
                Code::ManifestBlobUnknown,
                format!("blob unknown to registry: {b}"),
            )
            .with_detail(json!({ "digest": b.to_string() }))
            .into());
        }
    }
    for m in &refs.manifests {
        if reg.storage.manifest_media_type(name, m)?.is_none() {
            return Err(err(
                Code::ManifestBlobUnknown,
                format!("manifest unknown to registry: {m}"),
            )
            .with_detail(json!({ "digest": m.to_string() }))
            .into());
        }
    }
    // Uploaded blobs become durable in the background: the manifest waits
    // for its own, so a power cut never leaves it naming a lost blob.
    for b in &refs.blobs {
        let (s, b) = (reg.storage.clone(), b.clone());
        blocking(move || s.make_durable(&b)).await?;
    }
    // Stored with the type as pushed (the header, or the body's field).
    let stored_type = if content_type.is_empty() {
        media_type.clone()
    } else {
        content_type
    };
    let s = reg.storage.clone();
    let (n, r2, b2) = (name.to_string(), r.clone(), bytes.clone());
    let d = blocking(move || s.put_manifest(&n, &r2, &stored_type, &b2)).await?;
    let mut b = builder(StatusCode::CREATED)
        .header("Location", format!("/v2/{name}/manifests/{d}"))
        .header("Docker-Content-Digest", d.to_string())
        .header("Content-Length", 0);
    if let Some(sub) = refs.subject {
        b = b.header("OCI-Subject", sub.to_string());
    }
    Ok(finish(b, empty_body()))
}

pub(super) async fn delete_manifest(
    reg: &Arc<Registry>,
    name: &str,
    reference: &str,
) -> std::result::Result<Response<Body>, Reply> {
    if !reg.delete_enabled {
        return Err(err(
            Code::Unsupported,
            "deletes are disabled (storage.delete.enabled)",
        )
        .into());
    }
    let r = parse_reference(reference, false)?;
    let s = reg.storage.clone();
    let n = name.to_string();
    let found = match r {
        Reference::Digest(d) => blocking(move || s.delete_manifest(&n, &d)).await?,
        Reference::Tag(t) => blocking(move || s.delete_tag(&n, &t)).await?,
    };
    if !found {
        return Err(err(
            Code::ManifestUnknown,
            format!("manifest unknown: {reference}"),
        )
        .into());
    }
    Ok(finish(
        builder(StatusCode::ACCEPTED).header("Content-Length", 0),
        empty_body(),
    ))
}

// ---- referrers ------------------------------------------------------------------

pub(super) async fn referrers(
    reg: &Arc<Registry>,
    name: &str,
    digest: &str,
    q: &[(String, String)],
) -> std::result::Result<Response<Body>, Reply> {
    let subject = Digest::parse(digest).map_err(|e| err(Code::DigestInvalid, e.to_string()))?;
    let filter = query(q, "artifactType").map(str::to_string);
    let s = reg.storage.clone();
    let n = name.to_string();
    let f2 = filter.clone();
    let manifests = blocking(move || {
        let mut out = Vec::new();
        for d in s.revisions(&n)? {
            let Some(m) = s.get_manifest(&n, &Reference::Digest(d))? else {
                continue;
            };
            let Ok(v) = serde_json::from_slice::<Value>(&m.bytes) else {
                continue;
            };
            let sub = v
                .get("subject")
                .and_then(|x| x.get("digest"))
                .and_then(Value::as_str);
            if sub != Some(subject.to_string().as_str()) {
                continue;
            }
            let artifact_type = v
                .get("artifactType")
                .and_then(Value::as_str)
                .or_else(|| {
                    v.get("config")
                        .and_then(|c| c.get("mediaType"))
                        .and_then(Value::as_str)
                })
                .map(str::to_string);
            if let Some(f) = &f2 {
                if artifact_type.as_deref() != Some(f.as_str()) {
                    continue;
                }
            }
            let mut desc = json!({
                "mediaType": m.media_type,
                "digest": m.digest.to_string(),
                "size": m.bytes.len(),
            });
            if let Some(a) = artifact_type {
                desc["artifactType"] = Value::String(a);
            }
            if let Some(a) = v.get("annotations").filter(|a| a.is_object()) {
                desc["annotations"] = a.clone();
            }
            out.push(desc);
        }
        Ok(out)
    })
    .await?;
    let body = json!({"schemaVersion": 2, "mediaType": MT_OCI_INDEX, "manifests": manifests});
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    let mut b = builder(StatusCode::OK)
        .header(CONTENT_TYPE, MT_OCI_INDEX)
        .header("Content-Length", bytes.len());
    if filter.is_some() {
        b = b.header("OCI-Filters-Applied", "artifactType");
    }
    Ok(finish(b, full_body(bytes)))
}
