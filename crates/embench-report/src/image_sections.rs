//! The image cells' own table: where their images came from, what preprocessing
//! cost before the cell, and how close embench's preprocessing is to Hugging Face's.

use std::fmt::Write;

use crate::fmt::num;
use crate::runs::Entry;
use crate::table::Table;

/// Whether a section's sequence label is an image tower's (`image 224x224`).
pub fn is_image(seq: &str) -> bool {
    seq.starts_with("image")
}

/// The inputs and preprocessing parity of the image cells among `entries` (nothing without any).
pub fn image_table(md: &mut String, entries: &[Entry<'_>], many_hosts: bool) {
    let cells: Vec<&Entry<'_>> = entries.iter().filter(|e| e.record.image.is_some()).collect();
    if cells.is_empty() {
        return;
    }
    let _ = writeln!(md, "### Image inputs and preprocessing\n");
    let _ = writeln!(
        md,
        "emb/s above is images/s. Decoding and preprocessing ran before each cell, not in its latency, \
         unless **in latency** says yes (`include_preprocessing`); \
         **pixel diff** is the largest difference of a normalised pixel between embench's preprocessing and \
         Hugging Face's image processor on the probe images, **parity cos** the smallest cosine between this \
         backend's vectors of embench's pixels and of Hugging Face's (gated at 0.99; the backend's own gate, \
         **min cos** above, compares its vectors of Hugging Face's pixels with transformers').\n"
    );
    let mut table = Table::new(&[
        "backend",
        "scenario",
        "batch",
        "source",
        "input px",
        "preprocessing",
        "preprocess ms/image",
        "in latency",
        "images left out",
        "pixel diff",
        "parity cos",
    ]);
    for e in cells {
        let (r, i) = (e.record, e.record.image.as_ref().expect("filtered"));
        table.row(&[
            e.series(many_hosts),
            r.scenario.clone(),
            r.batch_size.to_string(),
            i.source.clone(),
            format!("{}x{}", i.width_px, i.height_px),
            i.processor.clone(),
            num(Some(i.preprocess_ms_per_image), 3),
            if i.include_preprocessing { "yes" } else { "no" }.to_string(),
            i.images_skipped.to_string(),
            num(i.preprocess_max_abs_diff, 4),
            num(i.preprocess_min_cosine, 5),
        ]);
    }
    md.push_str(&table.finish());
    md.push('\n');
}
