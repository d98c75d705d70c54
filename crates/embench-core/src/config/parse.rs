//! YAML parsing with serde-saphyr, turning its errors into [`ConfigError`]s.

use std::path::Path;

use serde::de::DeserializeOwned;

use super::error::ConfigError;

/// Reads and parses `path` strictly (unknown keys are errors, see `deny_unknown_fields`).
#[allow(clippy::result_large_err)] // the error path runs once, before anything is measured
pub fn parse_yaml_file<T: DeserializeOwned>(path: &Path, what: &str) -> Result<T, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigError::file(path, "", format!("cannot read {what}: {e}"))
            .fix(format!("check the path, or pass another file with --config (looked for {})", path.display()))
    })?;
    parse_yaml_str(&text, path)
}

/// Reads and parses a config file of type `T`, reporting every parse-level error
/// at once: the parser's first, and all that the JSON Schema `T` generates finds
/// (see [`super::all_errors`]), in file order.
pub fn parse_config_file<T: DeserializeOwned + schemars::JsonSchema>(
    path: &Path,
    what: &str,
) -> Result<T, super::ConfigErrors> {
    let schema = serde_json::to_value(schemars::schema_for!(T)).expect("a schema is JSON");
    parse_config_file_with(path, what, &schema).map(|(v, _)| v)
}

/// [`parse_config_file`] with the file's JSON Schema given (the benchmark config's,
/// with the backend crates' settings blocks in it: [`super::benchmark_schema`]);
/// returns the value and the file's text.
pub fn parse_config_file_with<T: DeserializeOwned>(
    path: &Path,
    what: &str,
    schema: &serde_json::Value,
) -> Result<(T, String), super::ConfigErrors> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigError::file(path, "", format!("cannot read {what}: {e}"))
            .fix(format!("check the path, or pass another file with --config (looked for {})", path.display()))
    })?;
    let first = match parse_yaml_str(&text, path) {
        Ok(v) => return Ok((v, text)),
        Err(first) => first,
    };
    if first.line.is_none() {
        return Err(first.into());
    }
    // The parser's own error speaks for its field (its wording is ours); the schema adds
    // the others, on other lines or (flow style) other fields of the same line.
    let mut all: Vec<ConfigError> = super::all_errors::schema_errors(&text, path, schema)
        .into_iter()
        .filter(|e| e.line != first.line || !(first.field.is_empty() || e.field.ends_with(first.field.as_str())))
        .collect();
    all.push(first);
    all.sort_by_key(|e| (e.line.unwrap_or(0), e.column.unwrap_or(0)));
    Err(super::ConfigErrors(all))
}

/// Parses YAML text that came from `path` (used for messages only).
#[allow(clippy::result_large_err)] // the error path runs once, before anything is measured
pub fn parse_yaml_str<T: DeserializeOwned>(text: &str, path: &Path) -> Result<T, ConfigError> {
    if text.lines().all(|l| l.trim().is_empty() || l.trim_start().starts_with('#')) {
        return Err(ConfigError::file(path, "", "the file is empty (nothing but blank lines and comments)")
            .fix("write the config into it; configs/quick.yaml is a complete example"));
    }
    serde_saphyr::from_str::<T>(text).map_err(|e| from_saphyr(path, text, &e))
}

/// Keys whose numbers start at 1: a negative or zero one is refused with this bound.
const AT_LEAST_ONE: [&str; 13] = [
    "num_requests",
    "concurrency",
    "batch_size",
    "threads",
    "sessions",
    "streams",
    "infer_requests",
    "processes",
    "repeat",
    "num_texts",
    "max_batch_size",
    "replicas",
    "workers_per_model",
];

pub(super) fn from_saphyr(path: &Path, text: &str, e: &serde_saphyr::Error) -> ConfigError {
    let (line, column) = match e.location() {
        Some(loc) if loc.line() > 0 => (Some(loc.line()), Some(loc.column())),
        _ => (None, None),
    };
    let raw = e.to_string();
    // serde-saphyr renders "error: line X column Y: message" and maybe a snippet; keep the message.
    let first = strip_location_prefix(raw.lines().next().unwrap_or_default().trim());
    let (mut field, message, fix) = explain(first);
    if field.is_empty() {
        if let (Some(l), Some(c)) = (line, column) {
            field = key_before(text, l, c).or_else(|| key_at(text, l, c)).unwrap_or_default();
        }
    }
    let (message, fix) = if message == NON_NEGATIVE && AT_LEAST_ONE.contains(&field.as_str()) {
        (
            "expected a whole number >= 1".to_string(),
            Some("write a plain number without quotes or sign, e.g. 4".to_string()),
        )
    } else {
        (message, fix)
    };
    ConfigError { file: path.to_path_buf(), line, column, field, message, fix }
}

/// Drops serde-saphyr's "error: " and "line X column Y: " prefixes; we print the location ourselves.
fn strip_location_prefix(msg: &str) -> &str {
    let msg = msg.strip_prefix("error: ").unwrap_or(msg);
    if msg.starts_with("line ") {
        if let Some(i) = msg.find(": ") {
            return &msg[i + 2..];
        }
    }
    msg
}

/// The mapping key whose value starts at `line:column` (1-based), e.g. `concurrency` in `  concurrency: "four"`.
fn key_before(text: &str, line: u64, column: u64) -> Option<String> {
    let src = text.lines().nth(line.checked_sub(1)? as usize)?;
    let upto: String = src.chars().take(column.saturating_sub(1) as usize).collect();
    let colon = upto.rfind(':')?;
    let key = upto[..colon].trim_end();
    let start = key.rfind(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-')).map_or(0, |i| i + 1);
    let key = &key[start..];
    (!key.is_empty()).then(|| key.to_string())
}

/// What a number field that took something else says (unless the key starts at 1).
const NON_NEGATIVE: &str = "expected a whole number >= 0";

/// The mapping key that starts at `line:column` (1-based), e.g. `threads` in `    threads: [1, 2]`.
fn key_at(text: &str, line: u64, column: u64) -> Option<String> {
    let src = text.lines().nth(line.checked_sub(1)? as usize)?;
    let rest: String = src.chars().skip(column.saturating_sub(1) as usize).collect();
    let (key, _) = rest.split_once(':')?;
    let key = key.trim();
    (!key.is_empty() && key.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '-')).then(|| key.to_string())
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
        let fix = (!expected.is_empty()).then(|| format!("valid keys here: {}", expected.join(", ")));
        return (key.to_string(), message, fix);
    }
    if let Some(rest) = msg.strip_prefix("missing field `") {
        let key = rest.split('`').next().unwrap_or_default();
        return (key.to_string(), format!("required key '{key}' is missing"), Some(format!("add '{key}:'")));
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
    if let Some(expected) = msg.strip_prefix("invalid type: sequence, expected ") {
        return (
            String::new(),
            format!("expected {expected}, found a list"),
            Some("write one value after the colon; to compare several, list the backend or scenario again with its own label".into()),
        );
    }
    let (message, fix) = match msg {
        "invalid u64" | "invalid usize" | "invalid u32" => {
            (NON_NEGATIVE.to_string(), Some("write a plain number without quotes, e.g. 4".to_string()))
        }
        "expected string scalar" => (
            "expected a single value, found a list or mapping".to_string(),
            Some("write one value after the colon, or check the indentation".to_string()),
        ),
        other => (other.to_string(), None),
    };
    (String::new(), message, fix)
}

/// The names after "expected one of" / "expected", backticked or not.
fn expected_names(rest: &str) -> Vec<String> {
    let Some(i) = rest.find("expected") else {
        return Vec::new();
    };
    let list = rest[i..].trim_start_matches("expected").trim_start().trim_start_matches("one of").trim();
    list.split(',').map(|n| n.trim().trim_matches('`').to_string()).filter(|n| !n.is_empty()).collect()
}

/// The most similar candidate, if similar enough to be a typo; one that differs only
/// in case comes first (names are case-sensitive: `ORT` is `ort`).
pub fn closest<'a>(word: &str, candidates: &'a [String]) -> Option<&'a str> {
    if let Some(c) = candidates.iter().find(|c| c.eq_ignore_ascii_case(word)) {
        return Some(c.as_str());
    }
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
        let names = vec!["ort".to_string(), "tch".to_string(), "candle".to_string()];
        assert_eq!(closest("ORT", &names), Some("ort"), "case alone is a typo");
    }

    #[test]
    fn finds_the_key_of_a_bad_value() {
        let text = "a: 1\nscenario:\n    concurrency: \"four\"\n";
        assert_eq!(key_before(text, 3, 18).as_deref(), Some("concurrency"));
        assert_eq!(strip_location_prefix("error: line 6 column 18: invalid u64"), "invalid u64");
    }

    #[test]
    fn explains_unknown_field() {
        let (field, msg, fix) = explain("unknown field `concurency`, expected one of `name`, `concurrency`");
        assert_eq!(field, "concurency");
        assert_eq!(msg, "unknown key 'concurency' (did you mean 'concurrency'?)");
        assert_eq!(fix.as_deref(), Some("valid keys here: name, concurrency"));
    }
}
