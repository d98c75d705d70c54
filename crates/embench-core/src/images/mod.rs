//! Image inputs: where images come from ([`source`]), how the model preprocesses
//! them ([`processor`]), and the reference a backend's image embeddings are
//! checked against ([`reference`]).

pub mod processor;
pub mod reference;
pub mod source;

use std::time::Instant;

pub use processor::ImageProcessor;
pub use source::{EncodedImage, ImageSource};

use crate::embedder::PixelBatch;

/// Images decoded and preprocessed for a model, one `3 × H × W` row each.
#[derive(Debug, Clone)]
pub struct PreprocessedImages {
    /// Rows of `3 * height * width` values.
    pub rows: Vec<Vec<f32>>,
    /// Pixels.
    pub height: usize,
    /// Pixels.
    pub width: usize,
    /// Mean wall time to decode and preprocess one image, ms.
    pub ms_per_image: f64,
    /// Images that could not be used, with why (skipped, never fatal unless none is left).
    pub skipped: Vec<String>,
    /// Indices (into the images given) of those in `rows`, in order.
    pub kept: Vec<usize>,
}

impl PreprocessedImages {
    /// Decodes and preprocesses `images` with `processor`; an image that fails is
    /// skipped and counted.
    ///
    /// Errors: no image left, or images of different output sizes (a processor
    /// without a fixed output size).
    pub fn new(images: &[EncodedImage], processor: &ImageProcessor) -> Result<Self, String> {
        let start = Instant::now();
        let mut rows = Vec::with_capacity(images.len());
        let mut sizes = std::collections::BTreeSet::new();
        let mut skipped = Vec::new();
        let mut kept = Vec::new();
        for (k, img) in images.iter().enumerate() {
            match img.decode().and_then(|d| {
                let size = processor.output_size(d.width(), d.height());
                processor.process(&d).map(|row| (row, size)).map_err(|e| format!("{}: {e}", img.name))
            }) {
                Ok((row, size)) => {
                    sizes.insert(size);
                    rows.push(row);
                    kept.push(k);
                }
                Err(e) => skipped.push(e),
            }
        }
        let ms_per_image = start.elapsed().as_secs_f64() * 1e3 / images.len().max(1) as f64;
        let Some(&(width, height)) = sizes.iter().next() else {
            return Err(format!("no usable image: {}", skipped.join("; ")));
        };
        if sizes.len() > 1 {
            return Err(format!(
                "{}: the preprocessing gives images of different sizes ({sizes:?}); a model's input needs one size (fix: a processor with a crop or an exact size)",
                processor.source.display()
            ));
        }
        Ok(Self { rows, height: height as usize, width: width as usize, ms_per_image, skipped, kept })
    }

    /// Decodes and preprocesses `images` into one batch: what a request does when its
    /// preprocessing is measured with it (`include_preprocessing`).
    ///
    /// Errors: an image that cannot be decoded or preprocessed, or images of different output sizes.
    pub fn batch_of(images: &[&EncodedImage], processor: &ImageProcessor) -> Result<PixelBatch, String> {
        let mut pixels = Vec::new();
        let mut size = None;
        for img in images {
            let decoded = img.decode()?;
            let out = processor.output_size(decoded.width(), decoded.height());
            if size.is_some_and(|s| s != out) {
                return Err(format!("{}: preprocessed to {out:?}, the batch's other images to {size:?}", img.name));
            }
            size = Some(out);
            pixels.extend(processor.process(&decoded).map_err(|e| format!("{}: {e}", img.name))?);
        }
        let (width, height) = size.ok_or("a batch of no images")?;
        Ok(PixelBatch { batch_size: images.len(), height: height as usize, width: width as usize, pixels })
    }

    /// A batch of the rows `first, first+1, …` (cycling), `batch_size` images.
    pub fn batch(&self, first: usize, batch_size: usize) -> PixelBatch {
        let mut pixels = Vec::with_capacity(batch_size * 3 * self.height * self.width);
        for k in 0..batch_size {
            pixels.extend_from_slice(&self.rows[(first + k) % self.rows.len()]);
        }
        PixelBatch { batch_size, height: self.height, width: self.width, pixels }
    }
}
