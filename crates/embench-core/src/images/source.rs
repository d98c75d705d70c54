//! Where a cell's images come from: a seeded synthetic generator, or a folder of
//! JPEG/PNG/WebP files. Either way the cell gets *encoded* images, so decoding and
//! resizing cost what they cost in a service (a camera's JPEG is decoded, resized,
//! cropped and normalised before the model sees it).

use std::path::{Path, PathBuf};

use image::codecs::jpeg::JpegEncoder;
use image::{ImageReader, RgbImage};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// File extensions read from an image folder (case-insensitive).
pub const IMAGE_EXTENSIONS: [&str; 4] = ["jpg", "jpeg", "png", "webp"];

/// One encoded image and where it came from.
#[derive(Debug, Clone)]
pub struct EncodedImage {
    /// `synthetic #k` or the file's path.
    pub name: String,
    /// The file's bytes (JPEG for synthetic images).
    pub bytes: Vec<u8>,
    /// Why the file could not be read (then `bytes` is empty and decoding says so).
    pub read_error: Option<String>,
}

impl EncodedImage {
    /// Decodes the image (format guessed from its bytes).
    ///
    /// Errors: a truncated or corrupt file, or a format other than JPEG, PNG and
    /// WebP, naming the image and the fix.
    pub fn decode(&self) -> Result<image::DynamicImage, String> {
        if let Some(e) = &self.read_error {
            return Err(format!("{}: cannot be read: {e} (fix: check its permissions, or remove it)", self.name));
        }
        let reader = ImageReader::new(std::io::Cursor::new(&self.bytes))
            .with_guessed_format()
            .map_err(|e| format!("{}: {e}", self.name))?;
        if reader.format().is_none() {
            return Err(format!("{}: not a JPEG, PNG or WebP image (fix: convert it, or remove it)", self.name));
        }
        let image = reader.decode().map_err(|e| {
            format!("{}: cannot decode: {e} (fix: the file is truncated or corrupt; replace it)", self.name)
        })?;
        if image.width() == 0 || image.height() == 0 {
            return Err(format!("{}: the image has no pixels (fix: remove it)", self.name));
        }
        Ok(image)
    }
}

/// A source of images.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ImageSource {
    /// Seeded photo-like images of `width × height` pixels, JPEG-encoded at quality 90.
    Synthetic {
        /// Pixels.
        width: u32,
        /// Pixels.
        height: u32,
        /// Seed: the same seed gives the same images.
        seed: u64,
    },
    /// The image files of a folder (not recursive), in name order.
    Folder(PathBuf),
}

impl ImageSource {
    /// `n` encoded images: synthetic ones, or the folder's first `n` files, each once
    /// (requests cycle through the images that decode).
    ///
    /// Errors: a folder that cannot be read or has no file with an image extension.
    pub fn images(&self, n: usize) -> Result<Vec<EncodedImage>, String> {
        match self {
            ImageSource::Synthetic { width, height, seed } => {
                Ok((0..n).map(|k| synthetic(*width, *height, seed.wrapping_add(k as u64), k)).collect())
            }
            ImageSource::Folder(dir) => {
                let files = image_files(dir)?;
                // A file that cannot be read is kept, to be left out (and counted) like one that cannot be decoded.
                Ok(files
                    .iter()
                    .take(n.max(1))
                    .map(|p| {
                        let name = p.display().to_string();
                        match std::fs::read(p) {
                            Ok(bytes) => EncodedImage { name, bytes, read_error: None },
                            Err(e) => EncodedImage { name, bytes: Vec::new(), read_error: Some(e.to_string()) },
                        }
                    })
                    .collect())
            }
        }
    }

    /// How the source is described in results: `synthetic 640x480 jpeg (seed 42)` or the folder.
    pub fn describe(&self) -> String {
        match self {
            ImageSource::Synthetic { width, height, seed } => format!("synthetic {width}x{height} jpeg (seed {seed})"),
            ImageSource::Folder(dir) => dir.display().to_string(),
        }
    }
}

/// The image files of `dir`, sorted by name.
///
/// Errors: a folder that cannot be read, or one without any `.jpg`/`.jpeg`/`.png`/`.webp` file.
pub fn image_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        format!("dataset.images: {}: {e} (fix: point it at a folder of JPEG, PNG or WebP files)", dir.display())
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .filter(|p| {
            p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
        })
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(format!(
            "dataset.images: {} has no .jpg, .jpeg, .png or .webp file (fix: add images, or remove dataset.images to use synthetic ones)",
            dir.display()
        ));
    }
    Ok(files)
}

/// A photo-like image: smooth colour gradients, a few soft-edged blobs and sensor-like
/// noise, so that JPEG coding and resampling do the work they do on photographs (a
/// flat or random-noise image would make both unrealistically cheap or expensive).
fn synthetic(width: u32, height: u32, seed: u64, k: usize) -> EncodedImage {
    let mut rng = StdRng::seed_from_u64(seed);
    let (w, h) = (width.max(1) as f32, height.max(1) as f32);
    let waves: Vec<[f32; 4]> = (0..3)
        .map(|_| {
            [
                rng.random_range(0.5..4.0),
                rng.random_range(0.5..4.0),
                rng.random_range(0.0..std::f32::consts::TAU),
                rng.random_range(30.0..70.0),
            ]
        })
        .collect();
    let blobs: Vec<[f32; 6]> = (0..5)
        .map(|_| {
            [
                rng.random_range(0.0..w),
                rng.random_range(0.0..h),
                rng.random_range(0.05..0.3) * w.min(h),
                rng.random_range(0.0..255.0),
                rng.random_range(0.0..255.0),
                rng.random_range(0.0..255.0),
            ]
        })
        .collect();
    let mut img = RgbImage::new(width.max(1), height.max(1));
    for (x, y, px) in img.enumerate_pixels_mut() {
        let (u, v) = (x as f32 / w, y as f32 / h);
        let mut rgb = [0f32; 3];
        for (c, [fx, fy, phase, amp]) in waves.iter().enumerate() {
            rgb[c] = 128.0 + amp * (std::f32::consts::TAU * (fx * u + fy * v) + phase).sin();
        }
        for [bx, by, r, cr, cg, cb] in &blobs {
            let d = ((x as f32 - bx).powi(2) + (y as f32 - by).powi(2)).sqrt();
            let a = (1.0 - (d - r) / (0.2 * r + 1.0)).clamp(0.0, 1.0) * 0.7;
            for (c, col) in [cr, cg, cb].iter().enumerate() {
                rgb[c] = rgb[c] * (1.0 - a) + **col * a;
            }
        }
        let noise: f32 = rng.random_range(-6.0..6.0);
        *px = image::Rgb(rgb.map(|c| (c + noise).clamp(0.0, 255.0) as u8));
    }
    let mut bytes = Vec::new();
    JpegEncoder::new_with_quality(&mut bytes, 90).encode_image(&img).expect("JPEG encoding to memory cannot fail");
    EncodedImage { name: format!("synthetic #{k}"), bytes, read_error: None }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_images_are_seeded_distinct_jpegs_of_the_asked_size() {
        let src = ImageSource::Synthetic { width: 64, height: 48, seed: 7 };
        let a = src.images(3).unwrap();
        assert_eq!(a.len(), 3);
        assert_eq!(a[0].bytes, src.images(1).unwrap()[0].bytes, "same seed, same image");
        assert_ne!(a[0].bytes, a[1].bytes);
        let img = a[2].decode().unwrap();
        assert_eq!((img.width(), img.height()), (64, 48));
        // Photo-like: neither flat nor saturated.
        let rgb = img.to_rgb8();
        let values: Vec<u8> = rgb.pixels().flat_map(|p| p.0).collect();
        let distinct: std::collections::BTreeSet<u8> = values.iter().copied().collect();
        assert!(distinct.len() > 64, "only {} distinct values", distinct.len());
    }

    #[test]
    fn a_folder_without_images_and_bad_files_give_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("notes.txt"), "x").unwrap();
        let e = ImageSource::Folder(dir.path().into()).images(2).unwrap_err();
        assert!(e.contains("has no .jpg") && e.contains("dataset.images"), "{e}");
        let good = ImageSource::Synthetic { width: 8, height: 8, seed: 1 }.images(1).unwrap().remove(0);
        std::fs::write(dir.path().join("a.jpg"), &good.bytes).unwrap();
        std::fs::write(dir.path().join("b.png"), &good.bytes[..good.bytes.len() / 3]).unwrap();
        std::fs::write(dir.path().join("c.webp"), b"not an image at all").unwrap();
        let images = ImageSource::Folder(dir.path().into()).images(64).unwrap();
        assert_eq!(images.len(), 3, "each file once");
        assert!(images[0].decode().is_ok());
        let e = images[1].decode().unwrap_err();
        assert!(e.contains("b.png") && e.contains("truncated or corrupt"), "{e}");
        let e = images[2].decode().unwrap_err();
        assert!(e.contains("c.webp") && e.contains("not a JPEG, PNG or WebP"), "{e}");
    }
}
