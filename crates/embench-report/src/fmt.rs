//! Number formatting shared by the terminal table, markdown and CSV.

/// `v` with `digits` decimals, or `-` when not measured.
pub fn num(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "-".to_string(), |x| format!("{x:.digits$}"))
}

/// Milliseconds with at least 3 significant digits, so sub-microsecond figures do not print as 0.00.
pub fn ms(v: Option<f64>) -> String {
    match v {
        Some(x) if x > 0.0 && x < 10.0 => {
            let digits = (2 - x.log10().floor() as i32).clamp(2, 9) as usize;
            format!("{x:.digits$}")
        }
        other => num(other, 2),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_latencies_keep_their_digits() {
        assert_eq!(ms(Some(0.000123)), "0.000123");
        assert_eq!(ms(Some(1.5)), "1.50");
        assert_eq!(ms(Some(48.25)), "48.25");
        assert_eq!(ms(None), "-");
        assert_eq!(num(Some(19.44), 1), "19.4");
    }
}
