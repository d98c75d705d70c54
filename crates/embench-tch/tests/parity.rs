//! libtorch (TorchScript) embeddings of fixed sentences against sentence-transformers'
//! vectors (the shared body: `embench_core::parity`). Needs the venv and the
//! converted model (`make test` prepares both).

use embench_core::parity::{minilm, require};
use embench_core::parity_test;
use embench_core::pooling::{Pooling, PoolingKind};
use embench_core::{Embedder, Precision};
use embench_tch::{TchEmbedder, TchSettings};

fn load(precision: Precision) -> TchEmbedder {
    let file = minilm().torchscript();
    require(&file);
    let pooling = Pooling { kind: PoolingKind::Mean, normalize: true };
    let model = TchEmbedder::load(
        &file,
        &TchSettings { threads: Some(2), cuda: false, precision, pooling, modality: embench_core::Modality::Text },
    )
    .unwrap();
    assert_eq!(model.info().precision, precision);
    assert_eq!(model.info().intra_op_threads, 2);
    model
}

parity_test!(fp32_matches_sentence_transformers, 0.9999, load(Precision::Fp32));

parity_test!(bf16_stays_within_the_reduced_precision_bound, 0.99, load(Precision::Bf16) => |_model, cosines| {
    assert!(cosines.iter().any(|&c| c < 0.99999), "bf16 should differ measurably from fp32: {cosines:?}");
});
