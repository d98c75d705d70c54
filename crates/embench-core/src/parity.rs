//! One numerical-parity test body for every backend, after candle's `test_device!`
//! (candle-core `tests/`) and TEI's `tests/common.rs`: a backend embeds the probe
//! sentences of `tests/fixtures/all-minilm-l6-v2_reference.json`
//! (sentence-transformers' own vectors, the independent reference), alone and from
//! several threads at once; every cosine must meet the floor, and concurrent calls
//! must give the vectors a lone call gives.
//!
//! Each backend's `tests/parity.rs` expands [`parity_test!`] per file and precision
//! it can run, and adds only what is its own (sessions, precision read back).

use std::path::PathBuf;

use crate::embedder::Embedder;
use crate::model_files::ModelFolder;
use crate::reference::ReferenceSet;
use crate::tokenize::TextTokenizer;

/// The repository's root (the workspace this crate is built in).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The default model's folder, as `make model convert` leaves it.
pub fn minilm() -> ModelFolder {
    ModelFolder::new(repo().join("models/all-minilm-l6-v2"))
}

/// A shared library every Linux has that is no model runtime (glibc's libm), for
/// tests of a runtime path that points at the wrong library. Panics when none is found.
pub fn not_a_runtime() -> PathBuf {
    ["/lib/x86_64-linux-gnu/libm.so.6", "/lib/aarch64-linux-gnu/libm.so.6", "/lib64/libm.so.6", "/usr/lib64/libm.so.6"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .expect("libm.so.6 in a usual place")
}

/// Panics with the make target to run when `file` is missing.
pub fn require(file: &std::path::Path) {
    assert!(file.is_file(), "{} is missing: run `make convert` (make test does it first)", file.display());
}

/// Cosines of `model`'s vectors against sentence-transformers' for the probe
/// sentences, each at least `floor`; the same vectors from 3 threads at once.
/// `what` names the backend and variant in the output.
pub fn check(model: &dyn Embedder, floor: f32, what: &str) -> Vec<f32> {
    let folder = minilm();
    let reference = ReferenceSet::from_file(&repo().join("tests/fixtures/all-minilm-l6-v2_reference.json")).unwrap();
    let tokenizer = TextTokenizer::from_file(&folder.tokenizer_json(), 256).unwrap();
    let alone = reference.cosines(model, &tokenizer).unwrap();
    println!("{what} vs sentence-transformers cosines: {alone:?}");
    for (sentence, c) in reference.sentences.iter().zip(&alone) {
        assert!(*c >= floor, "{what}: cosine {c} < {floor} for {sentence:?}");
    }
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..3).map(|_| s.spawn(|| reference.cosines(model, &tokenizer).unwrap())).collect();
        for h in handles {
            assert_eq!(h.join().unwrap(), alone, "{what}: concurrent calls changed the vectors");
        }
    });
    alone
}

/// A parity test: `parity_test!(name, floor, load)` loads a model with the
/// expression `load` (an [`Embedder`]) and runs [`check`] on it at `floor`;
/// with `=> |model, cosines| { ... }` the backend's own assertions follow.
#[macro_export]
macro_rules! parity_test {
    ($name:ident, $floor:expr, $load:expr) => {
        $crate::parity_test!($name, $floor, $load => |_model, _cosines| {});
    };
    ($name:ident, $floor:expr, $load:expr => |$model:ident, $cosines:ident| $extra:block) => {
        #[test]
        fn $name() {
            let $model = $load;
            let $cosines = $crate::parity::check(&$model, $floor, stringify!($name));
            $extra
        }
    };
}
