//! The model's image preprocessing, read from its `preprocessor_config.json` and run
//! as Hugging Face's PIL-based image processors run it (`CLIPImageProcessor`,
//! `SiglipImageProcessor`): convert to RGB, resize (CLIP: the shortest edge to
//! `size.shortest_edge`; SigLIP: to exactly `size.height × size.width`) with the
//! config's `resample` filter, centre-crop to `crop_size` (CLIP), rescale by
//! `rescale_factor` and normalise with `image_mean` / `image_std`, channels first.
//!
//! Resizing is `fast_image_resize`'s convolution resizer, a port of Pillow's: the
//! pixels still differ a little from Pillow's (rounding), which the gate measures
//! (`preprocess_max_abs_diff`) instead of assuming.

use std::path::{Path, PathBuf};

use fast_image_resize::{FilterType, ResizeAlg, ResizeOptions, Resizer};
use image::{DynamicImage, RgbImage};
use serde::Deserialize;

/// Target of the resize step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResizeTo {
    /// The shorter side becomes this many pixels, the aspect ratio kept (CLIP).
    ShortestEdge(u32),
    /// Exactly `width × height` pixels (SigLIP).
    Exact {
        /// Pixels.
        width: u32,
        /// Pixels.
        height: u32,
    },
}

/// One model's preprocessing.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageProcessor {
    /// The file it came from (for messages).
    pub source: PathBuf,
    /// The processor class named in the file (`CLIPImageProcessor`, …).
    pub class: String,
    /// The resize (None: `do_resize: false`).
    pub resize: Option<ResizeTo>,
    /// Pillow's filter code (`resample`: 0 nearest, 1 Lanczos, 2 bilinear, 3 bicubic, 4 box, 5 Hamming).
    pub resample: u8,
    /// Centre crop to `(width, height)` (None: `do_center_crop: false`).
    pub center_crop: Option<(u32, u32)>,
    /// Multiplier of the 0–255 values (None: `do_rescale: false`).
    pub rescale_factor: Option<f32>,
    /// Per-channel mean and standard deviation, RGB (None: `do_normalize: false`).
    pub normalize: Option<([f32; 3], [f32; 3])>,
}

#[derive(Deserialize)]
struct Raw {
    #[serde(default)]
    image_processor_type: Option<String>,
    #[serde(default = "yes")]
    do_resize: bool,
    #[serde(default)]
    size: Option<serde_json::Value>,
    #[serde(default)]
    resample: Option<u8>,
    #[serde(default)]
    do_center_crop: bool,
    #[serde(default)]
    crop_size: Option<serde_json::Value>,
    #[serde(default = "yes")]
    do_rescale: bool,
    #[serde(default)]
    rescale_factor: Option<f32>,
    #[serde(default = "yes")]
    do_normalize: bool,
    #[serde(default)]
    image_mean: Option<Vec<f32>>,
    #[serde(default)]
    image_std: Option<Vec<f32>>,
}

fn yes() -> bool {
    true
}

/// `{"height": h, "width": w}`, `{"shortest_edge": n}` or a bare number (older files):
/// the shortest edge when `square` is false, a square otherwise, as transformers'
/// `get_size_dict(size, default_to_square=…)` reads it.
fn size_of(value: &serde_json::Value, field: &str, path: &Path, square: bool) -> Result<ResizeTo, String> {
    let get = |k: &str| value.get(k).and_then(|v| v.as_u64()).map(|v| v as u32);
    match (value.as_u64(), get("shortest_edge"), get("height"), get("width")) {
        (Some(n), ..) if !square => Ok(ResizeTo::ShortestEdge(n as u32)),
        (Some(n), ..) => Ok(ResizeTo::Exact { width: n as u32, height: n as u32 }),
        (None, Some(n), ..) => Ok(ResizeTo::ShortestEdge(n)),
        (None, None, Some(height), Some(width)) => Ok(ResizeTo::Exact { width, height }),
        _ => Err(format!(
            "{}: '{field}' is {value}, not {{\"shortest_edge\": N}} or {{\"height\": H, \"width\": W}} (fix: repair the file, or re-save the model's image processor)",
            path.display()
        )),
    }
}

impl ImageProcessor {
    /// Reads `preprocessor_config.json`.
    ///
    /// Errors: a missing or unreadable file, a size it cannot read, a `resample` code
    /// Pillow does not have, a zero size, or a mean/std that is not three values; each
    /// naming the file and the field.
    pub fn from_file(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            format!("{}: {e} (fix: the model's Hugging Face folder needs its preprocessor_config.json)", path.display())
        })?;
        let raw: Raw = serde_json::from_str(&text).map_err(|e| format!("{}: invalid JSON: {e}", path.display()))?;
        let class = raw.image_processor_type.clone().unwrap_or_else(|| "unknown".into());
        // CLIPImageProcessor reads a bare `size` as the shortest edge (`default_to_square=False`;
        // openai/clip-vit-base-patch16 writes `"size": 224`); SigLIP's and most others as a square.
        let square = !class.starts_with("CLIP");
        let resize = match (raw.do_resize, &raw.size) {
            (false, _) => None,
            (true, Some(size)) => Some(size_of(size, "size", path, square)?),
            (true, None) => return Err(format!("{}: do_resize without a 'size' (fix: add the size)", path.display())),
        };
        let center_crop = match (raw.do_center_crop, &raw.crop_size) {
            (false, _) => None,
            (true, Some(size)) => match size_of(size, "crop_size", path, true)? {
                ResizeTo::Exact { width, height } => Some((width, height)),
                ResizeTo::ShortestEdge(n) => Some((n, n)),
            },
            (true, None) => {
                return Err(format!("{}: do_center_crop without a 'crop_size' (fix: add it)", path.display()))
            }
        };
        let zero = match (resize, center_crop) {
            (Some(ResizeTo::ShortestEdge(0)), _) => true,
            (Some(ResizeTo::Exact { width, height }), _) if width == 0 || height == 0 => true,
            (_, Some((w, h))) => w == 0 || h == 0,
            _ => false,
        };
        if zero {
            return Err(format!("{}: a size of 0 pixels (fix: repair the file)", path.display()));
        }
        let resample = raw.resample.unwrap_or(3);
        if resample > 5 {
            return Err(format!(
                "{}: resample {resample} is not a Pillow filter (0 nearest, 1 Lanczos, 2 bilinear, 3 bicubic, 4 box, 5 Hamming)",
                path.display()
            ));
        }
        let three = |v: &Option<Vec<f32>>, field: &str| -> Result<[f32; 3], String> {
            match v.as_deref() {
                Some([a, b, c]) => Ok([*a, *b, *c]),
                Some(other) => Err(format!(
                    "{}: '{field}' has {} values, not 3 (one per RGB channel)",
                    path.display(),
                    other.len()
                )),
                None => Err(format!("{}: do_normalize without '{field}' (fix: add it)", path.display())),
            }
        };
        let normalize = if raw.do_normalize {
            let std = three(&raw.image_std, "image_std")?;
            if std.contains(&0.0) {
                return Err(format!("{}: image_std has a 0 (fix: repair the file)", path.display()));
            }
            Some((three(&raw.image_mean, "image_mean")?, std))
        } else {
            None
        };
        Ok(Self {
            source: path.to_path_buf(),
            class,
            resize,
            resample,
            center_crop,
            rescale_factor: raw.do_rescale.then_some(raw.rescale_factor.unwrap_or(1.0 / 255.0)),
            normalize,
        })
    }

    /// A plain processor for a model without a folder (mock runs): resize to
    /// `size × size` bilinearly, scale to 0–1, normalise with mean and std 0.5.
    pub fn plain(size: u32) -> Self {
        Self {
            source: PathBuf::from("(no preprocessor_config.json: a plain square resize)"),
            class: "plain".into(),
            resize: Some(ResizeTo::Exact { width: size, height: size }),
            resample: 2,
            center_crop: None,
            rescale_factor: Some(1.0 / 255.0),
            normalize: Some(([0.5; 3], [0.5; 3])),
        }
    }

    /// The `(width, height)` of what [`Self::process`] returns for a `width × height` image.
    pub fn output_size(&self, width: u32, height: u32) -> (u32, u32) {
        self.center_crop.unwrap_or_else(|| self.resized_size(width, height))
    }

    /// The size after the resize step: transformers' `get_resize_output_image_size`
    /// (`default_to_square=False`: the long side is `int(edge * long / short)`).
    fn resized_size(&self, width: u32, height: u32) -> (u32, u32) {
        match self.resize {
            None => (width, height),
            Some(ResizeTo::Exact { width, height }) => (width, height),
            Some(ResizeTo::ShortestEdge(edge)) => {
                let (short, long) = (width.min(height) as u64, width.max(height) as u64);
                let long = (edge as u64 * long / short.max(1)) as u32;
                if width <= height {
                    (edge, long)
                } else {
                    (long, edge)
                }
            }
        }
    }

    /// The model's input for one decoded image: `3 × H × W` f32, channels first.
    ///
    /// Errors: an image with no pixels.
    pub fn process(&self, image: &DynamicImage) -> Result<Vec<f32>, String> {
        if image.width() == 0 || image.height() == 0 {
            return Err("the image has no pixels (0 wide or 0 high)".into());
        }
        let rgb: RgbImage = image.to_rgb8();
        let (w, h) = self.resized_size(rgb.width(), rgb.height());
        let resized = if (w, h) == rgb.dimensions() {
            rgb
        } else {
            let mut out = RgbImage::new(w, h);
            let options = ResizeOptions::new().resize_alg(self.algorithm());
            Resizer::new().resize(&rgb, &mut out, &options).map_err(|e| format!("resize: {e}"))?;
            out
        };
        let (cw, ch) = self.center_crop.unwrap_or((w, h));
        // transformers' `center_crop`: top = (h - crop_h) // 2, left likewise; a crop
        // larger than the image pads with zeros around it.
        let top = (h as i64 - ch as i64).div_euclid(2);
        let left = (w as i64 - cw as i64).div_euclid(2);
        let plane = (cw * ch) as usize;
        let mut out = vec![0f32; 3 * plane];
        let scale = self.rescale_factor.unwrap_or(1.0);
        for y in 0..ch as i64 {
            for x in 0..cw as i64 {
                let (sx, sy) = (x + left, y + top);
                let inside = sx >= 0 && sy >= 0 && sx < w as i64 && sy < h as i64;
                let px = inside.then(|| resized.get_pixel(sx as u32, sy as u32).0);
                for c in 0..3 {
                    let v = px.map_or(0.0, |p| p[c] as f32 * scale);
                    let v = match self.normalize {
                        Some((mean, std)) => (v - mean[c]) / std[c],
                        None => v,
                    };
                    out[c * plane + (y as usize) * cw as usize + x as usize] = v;
                }
            }
        }
        Ok(out)
    }

    fn algorithm(&self) -> ResizeAlg {
        match self.resample {
            0 => ResizeAlg::Nearest,
            1 => ResizeAlg::Convolution(FilterType::Lanczos3),
            2 => ResizeAlg::Convolution(FilterType::Bilinear),
            4 => ResizeAlg::Convolution(FilterType::Box),
            5 => ResizeAlg::Convolution(FilterType::Hamming),
            _ => ResizeAlg::Convolution(FilterType::CatmullRom),
        }
    }

    /// Pillow's name of the filter, for the record.
    pub fn resample_name(&self) -> &'static str {
        ["nearest", "lanczos", "bilinear", "bicubic", "box", "hamming"][self.resample.min(5) as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn processor(json: &str) -> Result<ImageProcessor, String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("preprocessor_config.json");
        std::fs::write(&path, json).unwrap();
        ImageProcessor::from_file(&path)
    }

    const CLIP: &str = r#"{"crop_size": {"height": 4, "width": 4}, "do_center_crop": true, "do_normalize": true,
        "do_rescale": true, "do_resize": true, "image_mean": [0.48145466, 0.4578275, 0.40821073],
        "image_processor_type": "CLIPImageProcessor", "image_std": [0.26862954, 0.26130258, 0.27577711],
        "resample": 3, "rescale_factor": 0.00392156862745098, "size": {"shortest_edge": 4}}"#;

    #[test]
    fn clip_resizes_the_shortest_edge_then_crops_the_centre() {
        let p = processor(CLIP).unwrap();
        assert_eq!(p.resize, Some(ResizeTo::ShortestEdge(4)));
        // 10 × 6 -> 6 is the short side: 4 high, int(4 * 10 / 6) = 6 wide; cropped to 4 × 4.
        assert_eq!(p.resized_size(10, 6), (6, 4));
        assert_eq!(p.output_size(10, 6), (4, 4));
        // A flat grey image stays flat: every value is (128/255 - mean) / std of its channel.
        let grey = DynamicImage::ImageRgb8(RgbImage::from_pixel(10, 6, image::Rgb([128, 128, 128])));
        let out = p.process(&grey).unwrap();
        assert_eq!(out.len(), 3 * 16);
        let (mean, std) = p.normalize.unwrap();
        for c in 0..3 {
            let want = (128.0 / 255.0 - mean[c]) / std[c];
            assert!(out[c * 16..(c + 1) * 16].iter().all(|v| (v - want).abs() < 1e-5), "channel {c}");
        }
    }

    #[test]
    fn a_bare_size_is_clips_shortest_edge_and_siglips_square() {
        // openai/clip-vit-base-patch16's file, in the older format.
        let legacy = CLIP.replace(r#"{"shortest_edge": 4}"#, "4").replace(r#"{"height": 4, "width": 4}"#, "4");
        let p = processor(&legacy).unwrap();
        assert_eq!((p.resize, p.center_crop), (Some(ResizeTo::ShortestEdge(4)), Some((4, 4))));
        assert_eq!(p.resized_size(10, 6), (6, 4), "aspect ratio kept, then cropped");
        let siglip = processor(r#"{"image_processor_type": "SiglipImageProcessor", "size": 4, "do_normalize": false}"#);
        assert_eq!(siglip.unwrap().resize, Some(ResizeTo::Exact { width: 4, height: 4 }));
    }

    #[test]
    fn siglip_resizes_to_an_exact_size_and_channels_come_first() {
        let p = processor(
            r#"{"do_normalize": true, "do_rescale": true, "do_resize": true, "image_mean": [0.5, 0.5, 0.5],
            "image_std": [0.5, 0.5, 0.5], "resample": 2, "rescale_factor": 0.00392156862745098,
            "size": {"height": 3, "width": 5}}"#,
        )
        .unwrap();
        assert_eq!(p.output_size(100, 7), (5, 3));
        // Pure red: channel 0 is (1 - 0.5) / 0.5 = 1, the others -1.
        let red = DynamicImage::ImageRgb8(RgbImage::from_pixel(9, 9, image::Rgb([255, 0, 0])));
        let out = p.process(&red).unwrap();
        assert!(out[..15].iter().all(|v| (v - 1.0).abs() < 1e-5));
        assert!(out[15..].iter().all(|v| (v + 1.0).abs() < 1e-5));
        assert_eq!(p.resample_name(), "bilinear");
    }

    #[test]
    fn bad_files_name_the_field() {
        let e = processor(r#"{"size": {"longest": 3}}"#).unwrap_err();
        assert!(e.contains("preprocessor_config.json: 'size'"), "{e}");
        let e = processor(r#"{"size": 3, "image_mean": [0.5, 0.5], "image_std": [1, 1, 1]}"#).unwrap_err();
        assert!(e.contains("'image_mean' has 2 values"), "{e}");
        let e = processor(r#"{"size": 0, "do_normalize": false}"#).unwrap_err();
        assert!(e.contains("0 pixels"), "{e}");
        let e = processor(r#"{"size": 3, "resample": 9, "do_normalize": false}"#).unwrap_err();
        assert!(e.contains("not a Pillow filter"), "{e}");
        let empty = DynamicImage::ImageRgb8(RgbImage::new(0, 0));
        let p = processor(r#"{"size": 3, "do_normalize": false}"#).unwrap();
        assert!(p.process(&empty).unwrap_err().contains("no pixels"));
    }
}
