//! libtorch (TorchScript) embeddings of fixed sentences against sentence-transformers'
//! vectors. Needs the venv and the converted model (`make test` prepares both).

use std::path::PathBuf;

use embench_core::model_files::ModelFolder;
use embench_core::pooling::{Pooling, PoolingKind};
use embench_core::reference::ReferenceSet;
use embench_core::tokenize::TextTokenizer;
use embench_core::{Embedder, Precision};
use embench_tch::{TchEmbedder, TchSettings};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn cosines(precision: Precision) -> Vec<f32> {
    let folder = ModelFolder::new(repo().join("models/all-minilm-l6-v2"));
    let file = folder.torchscript();
    assert!(file.is_file(), "{} is missing: run `make convert` (make test does it first)", file.display());
    let pooling = Pooling { kind: PoolingKind::Mean, normalize: true };
    let model = TchEmbedder::load(&file, &TchSettings { threads: Some(2), cuda: false, precision, pooling }).unwrap();
    assert_eq!(model.info().precision, precision);
    assert_eq!(model.info().intra_op_threads, 2);
    let reference = ReferenceSet::from_file(&repo().join("tests/fixtures/all-minilm-l6-v2_reference.json")).unwrap();
    let tokenizer = TextTokenizer::from_file(&folder.tokenizer_json(), 256).unwrap();
    let alone = reference.cosines(&model, &tokenizer).unwrap();
    // Concurrent forward calls on the one module give the same vectors.
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..3).map(|_| s.spawn(|| reference.cosines(&model, &tokenizer).unwrap())).collect();
        for h in handles {
            assert_eq!(h.join().unwrap(), alone);
        }
    });
    alone
}

#[test]
fn fp32_matches_sentence_transformers() {
    let c = cosines(Precision::Fp32);
    println!("tch fp32 vs sentence-transformers cosines: {c:?}");
    assert!(c.iter().all(|&c| c >= 0.9999), "{c:?}");
}

#[test]
fn bf16_stays_within_the_reduced_precision_bound() {
    let c = cosines(Precision::Bf16);
    println!("tch bf16 vs sentence-transformers cosines: {c:?}");
    assert!(c.iter().all(|&c| c >= 0.99), "{c:?}");
    assert!(c.iter().any(|&c| c < 0.99999), "bf16 should differ measurably from fp32: {c:?}");
}
