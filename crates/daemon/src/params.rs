//! Query parameters as dockerd reads them: repeated keys (`names=a&names=b`),
//! booleans written `1`/`true`/`True`, and filters as JSON.

use berth_api::{Error, Result};

#[derive(Debug, Default, Clone)]
pub struct Params(Vec<(String, String)>);

impl Params {
    pub fn from_query(q: Option<&str>) -> Params {
        Params(
            form_urlencoded::parse(q.unwrap_or("").as_bytes())
                .into_owned()
                .collect(),
        )
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn all(&self, key: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    }

    pub fn bool(&self, key: &str) -> bool {
        matches!(
            self.get(key).map(|v| v.to_ascii_lowercase()).as_deref(),
            Some("1" | "true")
        )
    }

    pub fn int(&self, key: &str) -> Result<Option<i64>> {
        match self.get(key) {
            None | Some("") => Ok(None),
            Some(v) => v
                .parse()
                .map(Some)
                .map_err(|_| Error::invalid(format!("invalid value for {key}: {v}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_like_dockerd() {
        let p = Params::from_query(Some("names=a&names=b%2Fc&force=1&v=True&all=0&t=5&bad=x"));
        assert_eq!(p.all("names"), vec!["a", "b/c"]);
        assert!(p.bool("force") && p.bool("v") && !p.bool("all") && !p.bool("missing"));
        assert_eq!(p.int("t").unwrap(), Some(5));
        assert!(p.int("bad").is_err());
    }
}
