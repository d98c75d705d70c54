//! The README's Methodology section is the methodology every manifest carries:
//! one text, kept in `embench_runner::METHODOLOGY`. `EMBENCH_UPDATE_README=1`
//! rewrites the README's copy from it.

use std::path::PathBuf;

const BEGIN: &str = "<!-- methodology:begin -->\n";
const END: &str = "<!-- methodology:end -->";

fn readme() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../README.md")
}

/// The section's body: one bullet per line of the methodology.
fn body() -> String {
    embench_runner::METHODOLOGY.iter().map(|line| format!("- {line}\n")).collect()
}

#[test]
fn the_readme_methodology_is_the_manifests() {
    let text = std::fs::read_to_string(readme()).unwrap();
    let start = text.find(BEGIN).expect("README.md has the methodology:begin marker") + BEGIN.len();
    let end = text.find(END).expect("README.md has the methodology:end marker");
    let want = body();
    if std::env::var_os("EMBENCH_UPDATE_README").is_some() {
        std::fs::write(readme(), format!("{}{want}{}", &text[..start], &text[end..])).unwrap();
        return;
    }
    assert_eq!(
        &text[start..end],
        want,
        "README.md's Methodology section differs from embench_runner::METHODOLOGY (fix: EMBENCH_UPDATE_README=1 cargo test -p embench-runner --test methodology_readme)"
    );
}
