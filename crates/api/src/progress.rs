//! The message stream of long operations (pull, push, load, import,
//! build): dockerd's `jsonmessage.JSONMessage`, one JSON object a line.
//!
//! The engine reports its progress as [`Message`]s and the daemon only
//! encodes them. Fields serialise in the order of dockerd's Go struct
//! (`stream`, `status`, `progressDetail`, `progress`, `id`, `errorDetail`,
//! `error`, `aux`) and only when set, so the bytes are what the docker CLI
//! and the SDKs parse from dockerd. `progress` is the text bar dockerd still
//! computes for old clients; [`Message::bytes`] fills it.

use serde::{Deserialize, Serialize};

/// One progress message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Build output text (`Step 1/3 : FROM busybox\n`), or load's
    /// `Loaded image: ...\n`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Present (maybe empty) on a layer's lines; the CLI keys its
    /// per-layer line on `id` and redraws it.
    #[serde(
        default,
        rename = "progressDetail",
        skip_serializing_if = "Option::is_none"
    )]
    pub progress_detail: Option<ProgressDetail>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<String>,
    /// A layer's short digest, or the tag a pull is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(
        default,
        rename = "errorDetail",
        skip_serializing_if = "Option::is_none"
    )]
    pub error_detail: Option<ErrorDetail>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aux: Option<Aux>,
}

/// Bytes done of a layer's download or upload. Both are written when set,
/// zero included (berth has always sent `"current":0` on a push's first
/// line; the CLI reads it as dockerd's omitted zero).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgressDetail {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
}

/// A failure after the stream began: the CLI prints `message` and exits 1.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    pub message: String,
    /// A failed `RUN`'s exit status, for build.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<i64>,
}

/// Out-of-band results: a push's digest, a build's image id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Aux {
    Push(PushResult),
    Build(BuildResult),
}

/// The last message of each pushed tag (`docker push` prints
/// `TAG: digest: DIGEST size: SIZE` from it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushResult {
    #[serde(rename = "Tag")]
    pub tag: String,
    #[serde(rename = "Digest")]
    pub digest: String,
    #[serde(rename = "Size")]
    pub size: u64,
}

/// The image a build made (`docker build --iidfile`, `-q`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildResult {
    #[serde(rename = "ID")]
    pub id: String,
}

impl Message {
    /// `{"status": s}`: a line of its own (`Digest: ...`).
    pub fn status(s: impl Into<String>) -> Message {
        Message {
            status: Some(s.into()),
            ..Message::default()
        }
    }

    /// `{"status": s, "id": id}` without progress, as `Pulling from` is.
    pub fn status_id(s: impl Into<String>, id: impl Into<String>) -> Message {
        Message {
            status: Some(s.into()),
            id: Some(id.into()),
            ..Message::default()
        }
    }

    /// A layer's state (`Pulling fs layer`, `Pushed`): `status`, an empty
    /// `progressDetail`, `id`.
    pub fn layer(s: impl Into<String>, id: impl Into<String>) -> Message {
        Message {
            status: Some(s.into()),
            progress_detail: Some(ProgressDetail::default()),
            id: Some(id.into()),
            ..Message::default()
        }
    }

    /// A layer's bytes (`Downloading`, `Pushing`) with dockerd's bar.
    pub fn bytes(s: impl Into<String>, id: impl Into<String>, current: u64, total: u64) -> Message {
        Message {
            status: Some(s.into()),
            progress_detail: Some(ProgressDetail {
                current: Some(current),
                total: Some(total),
            }),
            progress: Some(bar(current, total)),
            id: Some(id.into()),
            ..Message::default()
        }
    }

    /// Output text (build steps, `Loaded image: ...`).
    pub fn stream(s: impl Into<String>) -> Message {
        Message {
            stream: Some(s.into()),
            ..Message::default()
        }
    }

    /// A failure after the stream began.
    pub fn error(message: impl Into<String>) -> Message {
        Message::error_code(message, None)
    }

    /// A failure with a code (a build's failed `RUN`).
    pub fn error_code(message: impl Into<String>, code: Option<i64>) -> Message {
        let message = message.into();
        Message {
            error_detail: Some(ErrorDetail {
                message: message.clone(),
                code,
            }),
            error: Some(message),
            ..Message::default()
        }
    }

    /// A pushed tag's digest and manifest size, with the empty
    /// `progressDetail` dockerd's progress writer adds to it.
    pub fn pushed(tag: impl Into<String>, digest: impl Into<String>, size: u64) -> Message {
        Message {
            progress_detail: Some(ProgressDetail::default()),
            aux: Some(Aux::Push(PushResult {
                tag: tag.into(),
                digest: digest.into(),
                size,
            })),
            ..Message::default()
        }
    }

    /// The image a build made.
    pub fn built(id: impl Into<String>) -> Message {
        Message {
            aux: Some(Aux::Build(BuildResult { id: id.into() })),
            ..Message::default()
        }
    }

    /// The message as one line of JSON, `\n` ended.
    pub fn to_line(&self) -> Vec<u8> {
        // Serialising these plain structs cannot fail (string keys only).
        let mut b = serde_json::to_vec(self).unwrap_or_default();
        b.push(b'\n');
        b
    }
}

/// The `progress` text dockerd computes (jsonmessage's `JSONProgress.String`
/// at its non-terminal width): a 50-column bar and `current/total`.
pub fn bar(current: u64, total: u64) -> String {
    if total == 0 {
        return format!("{:>8}", human_size(current));
    }
    let pct = ((current as f64 / total as f64 * 100.0) as i64 / 2).clamp(0, 50) as usize;
    let numbers = if current > total {
        String::new()
    } else {
        format!("{:>8}/{}", human_size(current), human_size(total))
    };
    format!("[{}>{}] {numbers}", "=".repeat(pct), " ".repeat(50 - pct))
}

/// go-units `HumanSizeWithPrecision(n, 3)`: decimal units, 3 significant
/// digits (`2.15MB`, `812B`, `1.07GB`).
pub fn human_size(n: u64) -> String {
    const UNITS: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    let mut size = n as f64;
    let mut i = 0;
    while size >= 1000.0 && i < UNITS.len() - 1 {
        size /= 1000.0;
        i += 1;
    }
    format!("{}{}", go_g3(size), UNITS[i])
}

/// Go's `%.3g` for the sizes above (no exponent below 1000).
fn go_g3(v: f64) -> String {
    let digits = if v >= 100.0 {
        0
    } else if v >= 10.0 {
        1
    } else {
        2
    };
    let s = format!("{v:.digits$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(m: &Message) -> String {
        serde_json::to_string(m).unwrap_or_default()
    }

    /// The bytes berthd has sent (and dockerd sends) for each kind of line.
    #[test]
    fn wire_bytes() {
        assert_eq!(
            wire(&Message::status_id("Pulling from library/busybox", "v1")),
            r#"{"status":"Pulling from library/busybox","id":"v1"}"#
        );
        assert_eq!(
            wire(&Message::layer("Pull complete", "3f4d90098f5b")),
            r#"{"status":"Pull complete","progressDetail":{},"id":"3f4d90098f5b"}"#
        );
        assert_eq!(
            wire(&Message::status("Digest: sha256:ab")),
            r#"{"status":"Digest: sha256:ab"}"#
        );
        let b = wire(&Message::bytes("Downloading", "3f4d", 500, 1000));
        assert!(
            b.starts_with(
                r#"{"status":"Downloading","progressDetail":{"current":500,"total":1000},"progress":"[="#
            ),
            "{b}"
        );
        assert!(b.ends_with(r#"    500B/1kB","id":"3f4d"}"#), "{b}");
        assert_eq!(
            wire(&Message::error("boom")),
            r#"{"errorDetail":{"message":"boom"},"error":"boom"}"#
        );
        assert_eq!(
            wire(&Message::error_code("failed", Some(2))),
            r#"{"errorDetail":{"message":"failed","code":2},"error":"failed"}"#
        );
        assert_eq!(
            wire(&Message::pushed("v1", "sha256:ab", 527)),
            r#"{"progressDetail":{},"aux":{"Tag":"v1","Digest":"sha256:ab","Size":527}}"#
        );
        assert_eq!(
            wire(&Message::built("sha256:cd")),
            r#"{"aux":{"ID":"sha256:cd"}}"#
        );
        assert_eq!(
            wire(&Message::stream("Step 1/2 : FROM busybox\n")),
            r#"{"stream":"Step 1/2 : FROM busybox\n"}"#
        );
    }

    /// What dockerd sends parses back into the same message.
    #[test]
    fn round_trip() {
        for m in [
            Message::bytes("Pushing", "ab", 0, 10),
            Message::pushed("v1", "sha256:ab", 527),
            Message::built("sha256:cd"),
            Message::error_code("x", Some(1)),
        ] {
            let back: Message = serde_json::from_str(&wire(&m)).expect("parses");
            assert_eq!(back, m);
        }
    }

    #[test]
    fn sizes_as_go_units() {
        assert_eq!(human_size(0), "0B");
        assert_eq!(human_size(812), "812B");
        assert_eq!(human_size(2_154_000), "2.15MB");
        assert_eq!(human_size(1_000), "1kB");
        assert_eq!(human_size(32_800), "32.8kB");
        assert_eq!(human_size(1_073_741_824), "1.07GB");
    }

    #[test]
    fn bar_shape() {
        let b = bar(500, 1000);
        assert!(b.starts_with(&format!("[{}>{}] ", "=".repeat(25), " ".repeat(25))));
        assert!(b.ends_with("    500B/1kB"), "{b}");
        assert_eq!(bar(1000, 1000).matches('=').count(), 50);
    }
}
