//! YAML parsing with serde-saphyr, turning its errors into [`ConfigError`]s.

use std::path::Path;

use serde::de::DeserializeOwned;

use super::error::ConfigError;

/// Reads and parses `path` strictly (unknown keys are errors, see `deny_unknown_fields`).
pub fn parse_yaml_file<T: DeserializeOwned>(path: &Path, what: &str) -> Result<T, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigError::file(path, "", format!("cannot read {what}: {e}")).fix(format!(
            "check the path, or pass another file with --config (looked for {})",
            path.display()
        ))
    })?;
    parse_yaml_str(&text, path)
}

/// Parses YAML text that came from `path` (used for messages only).
pub fn parse_yaml_str<T: DeserializeOwned>(text: &str, path: &Path) -> Result<T, ConfigError> {
    serde_saphyr::from_str::<T>(text).map_err(|e| from_saphyr(path, &e))
}

fn from_saphyr(path: &Path, e: &serde_saphyr::Error) -> ConfigError {
    let (line, column) = match e.location() {
        Some(loc) if loc.line() > 0 => (Some(loc.line()), Some(loc.column())),
        _ => (None, None),
    };
    let raw = e.to_string();
    // serde-saphyr renders a snippet after the first line; keep the message only.
    let first = raw.lines().next().unwrap_or_default().trim();
    let first = strip_location_suffix(first);
    let (field, message, fix) = explain(first);
    ConfigError {
        file: path.to_path_buf(),
        line,
        column,
        field,
        message,
        fix,
    }
}

/// serde-saphyr appends " at line X column Y"; we print the location ourselves.
fn strip_location_suffix(msg: &str) -> &str {
    match msg.find(" at line ") {
        Some(i) => &msg[..i],
        None => msg,
    }
}

/// Turns serde's wording into ours: `unknown key 'x' (did you mean 'y'?)`.
fn explain(msg: &str) -> (String, String, Option<String>) {
    if let Some(rest) = msg.strip_prefix("unknown field `") {
        let key = rest.split('`').next().unwrap_or_default();
        let expected = expected_names(rest);
        let suggestion = closest(key, &expected);
        let message = match suggestion {
            Some(s) => format!("unknown key '{key}' (did you mean '{s}'?)"),
            None => format!("unknown key '{key}'"),
        };
        let fix =
            (!expected.is_empty()).then(|| format!("valid keys here: {}", expected.join(", ")));
        return (key.to_string(), message, fix);
    }
    if let Some(rest) = msg.strip_prefix("missing field `") {
        let key = rest.split('`').next().unwrap_or_default();
        return (
            key.to_string(),
            format!("required key '{key}' is missing"),
            Some(format!("add '{key}:'")),
        );
    }
    if let Some(rest) = msg.strip_prefix("unknown variant `") {
        let value = rest.split('`').next().unwrap_or_default();
        let expected = expected_names(rest);
        let message = match closest(value, &expected) {
            Some(s) => format!("unknown value '{value}' (did you mean '{s}'?)"),
            None => format!("unknown value '{value}'"),
        };
        let fix = (!expected.is_empty()).then(|| format!("use one of: {}", expected.join(", ")));
        return (String::new(), message, fix);
    }
    (String::new(), msg.to_string(), None)
}

/// The backticked names after "expected one of" / "expected".
fn expected_names(rest: &str) -> Vec<String> {
    let Some(i) = rest.find("expected") else {
        return Vec::new();
    };
    rest[i..]
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// The most similar candidate, if similar enough to be a typo.
pub fn closest<'a>(word: &str, candidates: &'a [String]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (strsim::damerau_levenshtein(word, c), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_keys_only() {
        let c = vec!["concurrency".to_string(), "batch_size".to_string()];
        assert_eq!(closest("concurency", &c), Some("concurrency"));
        assert_eq!(closest("bach_size", &c), Some("batch_size"));
        assert_eq!(closest("zzz", &c), None);
    }

    #[test]
    fn explains_unknown_field() {
        let (field, msg, fix) =
            explain("unknown field `concurency`, expected one of `name`, `concurrency`");
        assert_eq!(field, "concurency");
        assert_eq!(
            msg,
            "unknown key 'concurency' (did you mean 'concurrency'?)"
        );
        assert_eq!(fix.as_deref(), Some("valid keys here: name, concurrency"));
    }
}
