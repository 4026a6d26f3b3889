//! Docker's human units, shared by the daemon and the CLI: go-units'
//! `HumanDuration` and Go's duration syntax (`1h30m`, `90s`).

/// go-units `HumanDuration`, which docker uses for every relative time.
pub fn human_duration(seconds: i64) -> String {
    let minutes = seconds / 60;
    let hours = ((seconds as f64) / 3600.0 + 0.5) as i64;
    if seconds < 1 {
        "Less than a second".into()
    } else if seconds == 1 {
        "1 second".into()
    } else if seconds < 60 {
        format!("{seconds} seconds")
    } else if minutes == 1 {
        "About a minute".into()
    } else if minutes < 60 {
        format!("{minutes} minutes")
    } else if hours == 1 {
        "About an hour".into()
    } else if hours < 48 {
        format!("{hours} hours")
    } else if hours < 24 * 7 * 2 {
        format!("{} days", hours / 24)
    } else if hours < 24 * 30 * 2 {
        format!("{} weeks", hours / 24 / 7)
    } else if hours < 24 * 365 * 2 {
        format!("{} months", hours / 24 / 30)
    } else {
        format!("{} years", seconds / 3600 / 24 / 365)
    }
}

/// Go duration syntax in seconds: `1h30m` = 5400.0, `1.5s`, `250ms`.
pub fn parse_duration(s: &str) -> Option<f64> {
    let mut total = 0f64;
    let mut num = String::new();
    let mut chars = s.chars().peekable();
    let mut any = false;
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            num.push(c);
            continue;
        }
        let mut unit = c.to_string();
        if c == 'm' && chars.peek() == Some(&'s') {
            unit.push(chars.next()?);
        }
        let n: f64 = num.parse().ok()?;
        num.clear();
        total += match unit.as_str() {
            "h" => n * 3600.0,
            "m" => n * 60.0,
            "s" => n,
            "ms" => n / 1000.0,
            _ => return None,
        };
        any = true;
    }
    (any && num.is_empty()).then_some(total)
}

/// go-units `RAMInBytes`: `512m`, `1g`, `1.5GB`, `100` (binary multiples).
pub fn ram_in_bytes(s: &str) -> Result<i64, String> {
    let lower = s.trim().to_ascii_lowercase();
    let num_end = lower
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(lower.len());
    let (num, unit) = lower.split_at(num_end);
    let n: f64 = num.parse().map_err(|_| format!("invalid size: '{s}'"))?;
    let unit = unit.strip_suffix('b').unwrap_or(unit);
    let unit = unit.strip_suffix('i').unwrap_or(unit);
    let mult: f64 = match unit {
        "" => 1.0,
        "k" => 1024.0,
        "m" => 1024.0f64.powi(2),
        "g" => 1024.0f64.powi(3),
        "t" => 1024.0f64.powi(4),
        "p" => 1024.0f64.powi(5),
        _ => return Err(format!("invalid suffix: '{unit}'")),
    };
    Ok((n * mult) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_docker() {
        assert_eq!(human_duration(0), "Less than a second");
        assert_eq!(human_duration(1), "1 second");
        assert_eq!(human_duration(59), "59 seconds");
        assert_eq!(human_duration(60), "About a minute");
        assert_eq!(human_duration(119), "About a minute");
        assert_eq!(human_duration(120), "2 minutes");
        assert_eq!(human_duration(3600), "About an hour");
        assert_eq!(human_duration(3 * 3600), "3 hours");
        assert_eq!(human_duration(3 * 86400), "3 days");
    }

    #[test]
    fn go_durations() {
        assert_eq!(parse_duration("1m"), Some(60.0));
        assert_eq!(parse_duration("1h30m"), Some(5400.0));
        assert_eq!(parse_duration("0s"), Some(0.0));
        assert_eq!(parse_duration("250ms"), Some(0.25));
        assert_eq!(parse_duration("10"), None);
        assert_eq!(parse_duration("x"), None);
    }
}

/// Trims an RFC 3339 timestamp with nanoseconds the way Go's
/// `time.RFC3339Nano` prints it: trailing zeros of the fraction dropped,
/// and the dot too when nothing is left (`...:38.80554971Z`, `...:38Z`).
pub fn go_rfc3339_nano(s: &str) -> String {
    let Some(dot) = s.find('.') else {
        return s.to_string();
    };
    let end = s[dot..]
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .map(|i| dot + i)
        .unwrap_or(s.len());
    let frac = s[dot + 1..end].trim_end_matches('0');
    if frac.is_empty() {
        format!("{}{}", &s[..dot], &s[end..])
    } else {
        format!("{}.{frac}{}", &s[..dot], &s[end..])
    }
}

#[cfg(test)]
mod go_time_tests {
    use super::go_rfc3339_nano;

    #[test]
    fn trims_like_go() {
        assert_eq!(
            go_rfc3339_nano("2026-12-01T07:27:38.805549710Z"),
            "2026-12-01T07:27:38.80554971Z"
        );
        assert_eq!(
            go_rfc3339_nano("2026-12-01T07:27:38.000000000Z"),
            "2026-12-01T07:27:38Z"
        );
        assert_eq!(
            go_rfc3339_nano("2026-12-01T07:27:38.100000000+01:00"),
            "2026-12-01T07:27:38.1+01:00"
        );
        assert_eq!(
            go_rfc3339_nano("2026-12-01T07:27:38Z"),
            "2026-12-01T07:27:38Z"
        );
    }
}
