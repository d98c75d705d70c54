//! The image tower's reference: probe images, the pixel tensor Hugging Face's image
//! processor made of them, and transformers' embeddings of that tensor, written by
//! `scripts/python/convert_multimodal.py` as `references/image.json` (with the tensor
//! in `references/image_pixels.f32`, raw little-endian f32 `[n, 3, H, W]`).
//!
//! Two checks use it. The backend gate embeds the *same* pixel tensor and compares
//! the vectors (a framework difference only). Preprocessing parity runs embench's own
//! preprocessing on the probe files and compares both the pixels and the resulting
//! vectors (a resampler difference only).

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::embedder::{EmbedInput, Embedder, PixelBatch};
use crate::images::{EncodedImage, ImageProcessor, PreprocessedImages};
use crate::pooling::cosine;

#[derive(Deserialize)]
struct Raw {
    images: Vec<String>,
    pixel_values: String,
    shape: [usize; 4],
    embeddings: Vec<Vec<f32>>,
}

/// The probe images, their reference pixels and embeddings.
#[derive(Debug, Clone)]
pub struct ImageReference {
    /// The probe files.
    pub images: Vec<PathBuf>,
    /// Hugging Face's preprocessing of them.
    pub pixels: PixelBatch,
    /// transformers' image embeddings of `pixels`, one per image.
    pub embeddings: Vec<Vec<f32>>,
}

/// How close embench's preprocessing is to Hugging Face's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PreprocessParity {
    /// Largest absolute difference of a normalised pixel value.
    pub max_abs_pixel_diff: f64,
    /// Smallest cosine between a backend's vector of embench's pixels and the same
    /// backend's vector of Hugging Face's pixels (so the backend's own precision
    /// error, which the gate bounds, is not counted twice).
    pub min_cosine: f64,
}

impl ImageReference {
    /// The file under a model root.
    pub fn path(root: &Path) -> PathBuf {
        root.join("references/image.json")
    }

    /// Reads the reference of the model at `root`.
    ///
    /// Errors: a missing or malformed file, a pixel file of the wrong size, or a
    /// count of embeddings other than the images', naming the file and the fix.
    pub fn from_root(root: &Path) -> Result<Self, String> {
        let path = Self::path(root);
        let fix = "(fix: scripts/convert_models.sh --force <key> writes it)";
        let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e} {fix}", path.display()))?;
        let raw: Raw = serde_json::from_str(&text).map_err(|e| format!("{}: {e} {fix}", path.display()))?;
        let [n, c, height, width] = raw.shape;
        if c != 3 || n != raw.embeddings.len() || n != raw.images.len() || n == 0 {
            return Err(format!(
                "{}: shape {:?} does not match {} images and {} embeddings of 3 channels {fix}",
                path.display(),
                raw.shape,
                raw.images.len(),
                raw.embeddings.len()
            ));
        }
        let pixel_path = root.join(&raw.pixel_values);
        let bytes = std::fs::read(&pixel_path).map_err(|e| format!("{}: {e} {fix}", pixel_path.display()))?;
        if bytes.len() != n * 3 * height * width * 4 {
            return Err(format!(
                "{}: {} bytes, not the {} of f32 {:?} {fix}",
                pixel_path.display(),
                bytes.len(),
                n * 3 * height * width * 4,
                raw.shape
            ));
        }
        let pixels = bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
        Ok(Self {
            images: raw.images.iter().map(|p| root.join(p)).collect(),
            pixels: PixelBatch { batch_size: n, height, width, pixels },
            embeddings: raw.embeddings,
        })
    }

    /// The pixel rows of the reference tensor.
    fn rows(&self) -> Vec<Vec<f32>> {
        let len = 3 * self.pixels.height * self.pixels.width;
        self.pixels.pixels.chunks_exact(len).map(<[f32]>::to_vec).collect()
    }

    /// Embeds `rows` in batches of `batch_size` (cycling until every row was embedded
    /// and the last batch is full) and returns the cosine of every vector to its reference.
    fn cosines_of(&self, rows: &[Vec<f32>], embedder: &dyn Embedder, batch_size: usize) -> Result<Vec<f32>, String> {
        let images = PreprocessedImages {
            rows: rows.to_vec(),
            height: self.pixels.height,
            width: self.pixels.width,
            ms_per_image: 0.0,
            skipped: Vec::new(),
            kept: (0..rows.len()).collect(),
        };
        let k = rows.len();
        let b = batch_size.max(1);
        let mut out = Vec::with_capacity(k.div_ceil(b) * b);
        for first in (0..k.div_ceil(b) * b).step_by(b) {
            let got = embedder.embed_input(EmbedInput::Image(&images.batch(first, b))).map_err(|e| e.to_string())?;
            for r in 0..b {
                let want = &self.embeddings[(first + r) % k];
                if got.dim != want.len() {
                    return Err(format!(
                        "the backend returned {} values per image, the reference {}",
                        got.dim,
                        want.len()
                    ));
                }
                out.push(cosine(got.row(r), want));
            }
        }
        Ok(out)
    }

    /// The backend gate: the cosine of `embedder`'s vector of each reference pixel
    /// tensor to transformers' vector, at batches of `batch_size`.
    pub fn cosines(&self, embedder: &dyn Embedder, batch_size: usize) -> Result<Vec<f32>, String> {
        self.cosines_of(&self.rows(), embedder, batch_size)
    }

    /// Preprocessing parity: the probe files through `processor`, compared with the
    /// reference pixels; then both pixel sets embedded by `embedder` and compared row by row.
    ///
    /// Errors: a probe file that cannot be read or decoded, an output size other than
    /// the reference's, or the backend's own error.
    pub fn parity(&self, processor: &ImageProcessor, embedder: &dyn Embedder) -> Result<PreprocessParity, String> {
        let files = self
            .images
            .iter()
            .map(|p| {
                std::fs::read(p)
                    .map(|bytes| EncodedImage { name: p.display().to_string(), bytes, read_error: None })
                    .map_err(|e| format!("{}: {e}", p.display()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let ours = PreprocessedImages::new(&files, processor)?;
        if !ours.skipped.is_empty() {
            return Err(ours.skipped.join("; "));
        }
        if (ours.height, ours.width) != (self.pixels.height, self.pixels.width) {
            return Err(format!(
                "{}: embench's preprocessing gives {}x{} images, the reference {}x{}",
                processor.source.display(),
                ours.width,
                ours.height,
                self.pixels.width,
                self.pixels.height
            ));
        }
        let max_abs_pixel_diff = ours
            .rows
            .iter()
            .flatten()
            .zip(&self.pixels.pixels)
            .map(|(a, b)| f64::from((a - b).abs()))
            .fold(0.0, f64::max);
        let n = ours.rows.len();
        let embed = |batch: PixelBatch| embedder.embed_input(EmbedInput::Image(&batch)).map_err(|e| e.to_string());
        let (mine, theirs) = (embed(ours.batch(0, n))?, embed(self.pixels.clone())?);
        let min_cosine = (0..n).map(|r| cosine(mine.row(r), theirs.row(r))).fold(f32::INFINITY, f32::min) as f64;
        Ok(PreprocessParity { max_abs_pixel_diff, min_cosine })
    }
}
