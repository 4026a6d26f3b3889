//! Output as docker prints it: tables through a tabwriter (minimum width
//! 10, padding 3), go-units sizes and durations, and Go templates for
//! `--format` / `inspect -f` (see [`template`]).

pub mod table;
pub mod template;

pub use table::{table, table_min, tabwrite};
pub use template::{Missing, Template};

use serde_json::Value;

pub use berth_api::units::human_duration;

/// Go's `%.*g`: `prec` significant digits, trailing zeros dropped,
/// exponent form when the exponent is below -4 or at least `prec`.
pub fn fmt_g(v: f64, prec: usize) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let prec = prec.max(1);
    let e = format!("{:.*e}", prec - 1, v);
    let (mant, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if exp < -4 || exp >= prec as i32 {
        let mant = trim_zeros(mant);
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{mant}e{sign}{:02}", exp.abs());
    }
    let decimals = (prec as i32 - 1 - exp).max(0) as usize;
    trim_zeros(&format!("{v:.decimals$}"))
}

fn trim_zeros(s: &str) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s.to_string()
    }
}

/// go-units `HumanSizeWithPrecision`: decimal units (`1.98MB`).
pub fn human_size_prec(size: f64, prec: usize) -> String {
    const UNITS: [&str; 9] = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
    let mut s = size;
    let mut i = 0;
    while s >= 1000.0 && i < UNITS.len() - 1 {
        s /= 1000.0;
        i += 1;
    }
    format!("{}{}", fmt_g(s, prec), UNITS[i])
}

/// `HumanSizeWithPrecision(size, 3)`, docker's table sizes.
pub fn human_size(size: f64) -> String {
    human_size_prec(size, 3)
}

/// go-units `BytesSize`: binary units, `%.4g` (`7.668GiB`).
pub fn bytes_size(size: f64) -> String {
    const UNITS: [&str; 9] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"];
    let mut s = size;
    let mut i = 0;
    while s >= 1024.0 && i < UNITS.len() - 1 {
        s /= 1024.0;
        i += 1;
    }
    format!("{}{}", fmt_g(s, 4), UNITS[i])
}

/// `<duration> ago` from a unix time.
pub fn ago(unix: i64) -> String {
    format!(
        "{} ago",
        human_duration(chrono::Utc::now().timestamp() - unix)
    )
}

/// Go's `time.Time.String()` in local time, docker's `CreatedAt`:
/// `2026-11-22 13:11:50 +0000 UTC`.
pub fn go_time(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .map(|t| {
            let local = t.with_timezone(&chrono::Local);
            let off = local.format("%z").to_string();
            let zone = if off == "+0000" {
                "UTC".to_string()
            } else {
                local.format("%Z").to_string()
            };
            format!("{} {off} {zone}", local.format("%Y-%m-%d %H:%M:%S"))
        })
        .unwrap_or_default()
}

/// Renders formatter rows as docker does. `format` is the user's
/// `--format` (or `None` for the default `table_format`); `headers` maps
/// field names to column titles; `type_name` names the Go type in errors.
/// Returns the text to print (an error is docker's message).
pub fn render_rows(
    format: Option<&str>,
    default_table: &str,
    headers: &Value,
    rows: &[Value],
    type_name: &str,
) -> Result<String, String> {
    let f = match format {
        None | Some("") | Some("table") => default_table.to_string(),
        Some("json") => "{{json .}}".to_string(),
        Some(f) => f.to_string(),
    };
    let t = Template::parse(&f).map_err(|e| format!("failed to parse template: {e}"))?;
    let missing = Missing::Field(type_name.to_string());
    let mut body = String::new();
    for r in rows {
        body.push_str(
            &t.render_with(r, &missing)
                .map_err(|e| format!("failed to execute template: {e}"))?,
        );
        body.push('\n');
    }
    if !t.table {
        return Ok(body);
    }
    let mut all = t.render_header(headers);
    all.push('\n');
    all.push_str(&body);
    Ok(tabwrite(&all))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sizes_like_go_units() {
        assert_eq!(human_size(0.0), "0B");
        assert_eq!(human_size(40.0), "40B");
        assert_eq!(human_size(1_982_256.0), "1.98MB");
        assert_eq!(human_size_prec(1_982_256.0, 4), "1.982MB");
        assert_eq!(human_size(4_260_000.0), "4.26MB");
        assert_eq!(human_size(123_456_789.0), "123MB");
        assert_eq!(human_size(12_345.0), "12.3kB");
        assert_eq!(human_size(999_999.0), "1e+03kB");
        assert_eq!(bytes_size(8_233_000_000.0), "7.668GiB");
        assert_eq!(bytes_size(1024.0), "1KiB");
    }

    #[test]
    fn relative_times() {
        let now = chrono::Utc::now().timestamp();
        assert_eq!(ago(now), "Less than a second ago");
        assert_eq!(ago(now - 5), "5 seconds ago");
        assert_eq!(ago(now - 70), "About a minute ago");
        assert_eq!(ago(now - 3 * 3600), "3 hours ago");
        assert_eq!(ago(now - 3 * 86400), "3 days ago");
    }

    #[test]
    fn rows_render_as_tables_or_lines() {
        let rows = vec![
            json!({"ID": "abc", "Names": "web"}),
            json!({"ID": "defghi", "Names": "db"}),
        ];
        let h = json!({"ID": "CONTAINER ID", "Names": "NAMES"});
        let t = "table {{.ID}}\t{{.Names}}";
        assert_eq!(
            render_rows(None, t, &h, &rows, "T").unwrap(),
            "CONTAINER ID   NAMES\nabc            web\ndefghi         db\n"
        );
        assert_eq!(
            render_rows(Some("{{.Names}}"), t, &h, &rows, "T").unwrap(),
            "web\ndb\n"
        );
        assert_eq!(
            render_rows(Some("json"), t, &h, &rows[..1], "T").unwrap(),
            "{\"ID\":\"abc\",\"Names\":\"web\"}\n"
        );
        assert!(render_rows(Some("{{.Nope}}"), t, &h, &rows, "*x.Ctx")
            .unwrap_err()
            .starts_with("failed to execute template: template: :1:2:"));
    }
}
