//! dockerd's JSON progress messages (`jsonmessage.JSONMessage`).

use serde_json::{json, Value};
use tokio::sync::mpsc::UnboundedSender;

/// Where progress messages go (the HTTP response stream).
pub type Sink = UnboundedSender<Value>;

pub fn status(tx: &Sink, status: &str, id: Option<&str>) {
    let mut v = json!({ "status": status });
    if let Some(id) = id {
        v["progressDetail"] = json!({});
        v["id"] = json!(id);
    }
    let _ = tx.send(v);
}

/// A status line with an id but no progressDetail, as "Pulling from" is.
pub fn status_id(tx: &Sink, status: &str, id: &str) {
    let _ = tx.send(json!({ "status": status, "id": id }));
}

pub fn bytes(tx: &Sink, status: &str, id: &str, current: u64, total: u64) {
    let _ = tx.send(json!({
        "status": status,
        "progressDetail": {"current": current, "total": total},
        "progress": bar(current, total),
        "id": id,
    }));
}

pub fn error(tx: &Sink, message: &str) {
    let _ = tx.send(json!({"errorDetail": {"message": message}, "error": message}));
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
