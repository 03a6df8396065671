//! Checking and cleaning uploaded photos: the type comes from the content (magic bytes and a
//! full decode), and what is stored carries no metadata.
//!
//! - JPEG and PNG are re-encoded from the decoded pixels (JPEG at quality 90, PNG lossless),
//!   with the EXIF orientation applied to the pixels first, so the photo still shows the
//!   right way up. Nothing of the original file survives: no EXIF (GPS, camera, time), no
//!   XMP, IPTC, comments, ICC profile or trailing data.
//! - WebP (usually lossy, and this build has no lossy WebP encoder) is cleaned without
//!   re-encoding: the RIFF container is rebuilt from its image chunks only (`VP8 `, `VP8L`,
//!   `ALPH`, `ANIM`, `ANMF`, and `VP8X` with the ICC/EXIF/XMP flags cleared). If its EXIF asks
//!   for a rotation, the pixels are rotated and re-encoded losslessly instead.
//!
//! Everything here is synchronous and CPU-bound: call it on a blocking thread.

use std::io::Cursor;

use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageError, ImageFormat, ImageReader, Limits};
use mitai_store::PhotoType;

/// The largest width or height accepted.
pub const MAX_DIMENSION: u32 = 12_000;
/// The most pixels accepted (a 48-megapixel camera's 8000 × 6000 fits).
pub const MAX_PIXELS: u64 = 48_000_000;
/// The most memory the decoded pixels may take: 48 megapixels of 8-bit RGB, or 40 of RGBA.
/// Checked against the size the file *declares* before anything is allocated, so a small
/// file that claims to be huge (a "decompression bomb") costs nothing.
const MAX_DECODE_BYTES: u64 = 160 * 1024 * 1024;
/// JPEG quality of re-encoded photos.
const JPEG_QUALITY: u8 = 90;

/// A cleaned photo, ready to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cleaned {
    pub kind: PhotoType,
    pub width: u32,
    pub height: u32,
    pub bytes: Vec<u8>,
}

/// Why an upload is not a photo we store.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejected {
    /// The content is not JPEG, PNG or WebP (whatever its name or declared type).
    #[error("the file is not a JPEG, PNG or WebP image")]
    UnsupportedType,
    /// It starts like one of them but does not decode.
    #[error("the file is not a valid {0} image")]
    Corrupt(&'static str),
    /// Larger than we decode (by its declared dimensions or decoded size).
    #[error(
        "the image is too large (at most {MAX_DIMENSION} pixels wide and high, {MAX_PIXELS} pixels in all)"
    )]
    TooLarge,
}

/// The longest side of a thumbnail.
pub const THUMB_SIZE: u32 = 320;

/// A small JPEG of a stored (already cleaned) photo for grids: at most [`THUMB_SIZE`] on
/// its longer side. Decoded under the same limits as an upload.
pub fn thumbnail(stored: &[u8]) -> Result<Vec<u8>, Rejected> {
    let kind = sniff(stored).ok_or(Rejected::UnsupportedType)?;
    let (image, _) = decode(stored, kind)?;
    let small = image.thumbnail(THUMB_SIZE, THUMB_SIZE);
    let mut out = Vec::new();
    DynamicImage::ImageRgb8(small.to_rgb8())
        .write_with_encoder(image::codecs::jpeg::JpegEncoder::new_with_quality(
            &mut out, 80,
        ))
        .map_err(|_| Rejected::Corrupt(name(kind)))?;
    Ok(out)
}

/// The type by magic bytes only.
pub fn sniff(bytes: &[u8]) -> Option<PhotoType> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(PhotoType::Jpeg)
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(PhotoType::Png)
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some(PhotoType::Webp)
    } else {
        None
    }
}

fn name(kind: PhotoType) -> &'static str {
    match kind {
        PhotoType::Jpeg => "JPEG",
        PhotoType::Png => "PNG",
        PhotoType::Webp => "WebP",
    }
}

fn format(kind: PhotoType) -> ImageFormat {
    match kind {
        PhotoType::Jpeg => ImageFormat::Jpeg,
        PhotoType::Png => ImageFormat::Png,
        PhotoType::Webp => ImageFormat::WebP,
    }
}

/// Checks an upload by content and returns it without metadata.
pub fn clean(input: &[u8]) -> Result<Cleaned, Rejected> {
    let kind = sniff(input).ok_or(Rejected::UnsupportedType)?;
    let (image, orientation) = decode(input, kind)?;
    let upright = orientation == Orientation::NoTransforms;
    if kind == PhotoType::Webp && upright {
        let bytes = strip_webp(input).ok_or(Rejected::Corrupt(name(kind)))?;
        return Ok(Cleaned {
            kind,
            width: image.width(),
            height: image.height(),
            bytes,
        });
    }
    let mut image = image;
    image.apply_orientation(orientation);
    let bytes = encode(&image, kind).map_err(|_| Rejected::Corrupt(name(kind)))?;
    Ok(Cleaned {
        kind,
        width: image.width(),
        height: image.height(),
        bytes,
    })
}

/// A full decode under limits, and the orientation its metadata asks for.
fn decode(input: &[u8], kind: PhotoType) -> Result<(DynamicImage, Orientation), Rejected> {
    let corrupt = |e: ImageError| match e {
        ImageError::Limits(_) => Rejected::TooLarge,
        _ => Rejected::Corrupt(name(kind)),
    };
    let mut reader = ImageReader::with_format(Cursor::new(input), format(kind));
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_DIMENSION);
    limits.max_image_height = Some(MAX_DIMENSION);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(corrupt)?;
    // `into_decoder` checks the declared dimensions against the limits, but nothing checks
    // the buffer `from_decoder` allocates: refuse by declared size here, before it exists.
    let (width, height) = decoder.dimensions();
    if !fits(width, height, decoder.total_bytes()) {
        return Err(Rejected::TooLarge);
    }
    // Unreadable metadata is no reason to refuse the pixels: it is dropped anyway.
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let image = DynamicImage::from_decoder(decoder).map_err(corrupt)?;
    if image.width() == 0 || image.height() == 0 {
        return Err(Rejected::Corrupt(name(kind)));
    }
    Ok((image, orientation))
}

/// Whether an image of these declared dimensions and decoded size is within the limits.
fn fits(width: u32, height: u32, decoded_bytes: u64) -> bool {
    width <= MAX_DIMENSION
        && height <= MAX_DIMENSION
        && u64::from(width) * u64::from(height) <= MAX_PIXELS
        && decoded_bytes <= MAX_DECODE_BYTES
}

fn encode(image: &DynamicImage, kind: PhotoType) -> Result<Vec<u8>, ImageError> {
    use image::codecs::jpeg::JpegEncoder;
    use image::codecs::png::{CompressionType, FilterType, PngEncoder};
    use image::codecs::webp::WebPEncoder;

    let mut out = Vec::new();
    match kind {
        PhotoType::Jpeg => {
            // JPEG has no alpha and 8 bits: keep grey as grey, everything else as RGB.
            let pixels = match image {
                DynamicImage::ImageLuma8(_) => image.clone(),
                _ => DynamicImage::ImageRgb8(image.to_rgb8()),
            };
            pixels.write_with_encoder(JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY))?;
        }
        PhotoType::Png => {
            let encoder = PngEncoder::new_with_quality(
                &mut out,
                CompressionType::Default,
                FilterType::Adaptive,
            );
            image.write_with_encoder(encoder)?;
        }
        PhotoType::Webp => {
            // The lossless encoder takes 8-bit RGB(A) and grey.
            let pixels = if image.color().has_alpha() {
                DynamicImage::ImageRgba8(image.to_rgba8())
            } else {
                DynamicImage::ImageRgb8(image.to_rgb8())
            };
            pixels.write_with_encoder(WebPEncoder::new_lossless(&mut out))?;
        }
    }
    Ok(out)
}

/// The chunks of a WebP file that hold the image itself.
const WEBP_IMAGE_CHUNKS: [&[u8; 4]; 6] = [b"VP8X", b"VP8 ", b"VP8L", b"ALPH", b"ANIM", b"ANMF"];
/// VP8X flags: ICC profile, EXIF, XMP.
const VP8X_METADATA_FLAGS: u8 = 0x20 | 0x08 | 0x04;

/// Rebuilds a WebP file from its image chunks only; `None` if the container is malformed.
pub fn strip_webp(input: &[u8]) -> Option<Vec<u8>> {
    if input.len() < 12 || &input[..4] != b"RIFF" || &input[8..12] != b"WEBP" {
        return None;
    }
    let riff_len = usize::try_from(u32::from_le_bytes(input[4..8].try_into().ok()?)).ok()?;
    // The RIFF size covers "WEBP" and the chunks; anything after it is dropped.
    let end = 8usize.checked_add(riff_len)?.min(input.len());
    let mut out = Vec::with_capacity(end);
    out.extend_from_slice(b"RIFF\0\0\0\0WEBP");
    let mut at = 12;
    let mut kept = 0;
    while at + 8 <= end {
        let fourcc: &[u8; 4] = input[at..at + 4].try_into().ok()?;
        let len =
            usize::try_from(u32::from_le_bytes(input[at + 4..at + 8].try_into().ok()?)).ok()?;
        let body_start = at + 8;
        let body_end = body_start.checked_add(len)?;
        if body_end > end {
            return None;
        }
        let padded_end = (body_end + (len & 1)).min(end);
        if WEBP_IMAGE_CHUNKS.contains(&fourcc) {
            let start = out.len();
            out.extend_from_slice(&input[at..padded_end]);
            if len & 1 == 1 && padded_end == body_end {
                out.push(0);
            }
            if fourcc == b"VP8X" && len >= 1 {
                out[start + 8] &= !VP8X_METADATA_FLAGS;
            }
            kept += 1;
        }
        at = padded_end;
    }
    if kept == 0 {
        return None;
    }
    let riff_len = u32::try_from(out.len() - 8).ok()?;
    out[4..8].copy_from_slice(&riff_len.to_le_bytes());
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let image = DynamicImage::ImageRgb8(image::RgbImage::from_fn(width, height, |x, y| {
            image::Rgb([(x * 7) as u8, (y * 13) as u8, 128])
        }));
        let mut out = Vec::new();
        image
            .write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
            .unwrap();
        out
    }

    /// A PNG header that declares `width` × `height` 16-bit RGBA, with no pixel data.
    fn declared_png(width: u32, height: u32) -> Vec<u8> {
        let mut ihdr = Vec::new();
        ihdr.extend_from_slice(&width.to_be_bytes());
        ihdr.extend_from_slice(&height.to_be_bytes());
        ihdr.extend_from_slice(&[16, 6, 0, 0, 0]);
        let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
        // An empty zlib stream stands in for the pixels.
        let empty_zlib: &[u8] = b"\x78\x9c\x03\x00\x00\x00\x00\x01";
        for (name, data) in [
            (b"IHDR", ihdr.as_slice()),
            (b"IDAT", empty_zlib),
            (b"IEND", &[]),
        ] {
            out.extend_from_slice(&u32::try_from(data.len()).unwrap().to_be_bytes());
            let mut chunk = name.to_vec();
            chunk.extend_from_slice(data);
            out.extend_from_slice(&chunk);
            out.extend_from_slice(&crc32(&chunk).to_be_bytes());
        }
        out
    }

    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    #[test]
    fn huge_declared_images_are_refused_before_decoding() {
        // 12000 × 12000 16-bit RGBA would be 1.1 GB of pixels.
        assert_eq!(
            clean(&declared_png(12_000, 12_000)),
            Err(Rejected::TooLarge)
        );
        assert_eq!(clean(&declared_png(12_001, 10)), Err(Rejected::TooLarge));
        assert!(fits(8000, 6000, 8000 * 6000 * 3));
        assert!(!fits(8000, 6000, 8000 * 6000 * 8), "16-bit RGBA of 48 MP");
        assert!(!fits(12_000, 4_001, 12_000 * 4_001), "over the pixel count");
    }

    #[test]
    fn sniffs_by_magic_only() {
        assert_eq!(sniff(b"\xFF\xD8\xFF\xE0rest"), Some(PhotoType::Jpeg));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\nrest"), Some(PhotoType::Png));
        assert_eq!(sniff(b"RIFF\x10\0\0\0WEBPVP8 "), Some(PhotoType::Webp));
        assert_eq!(sniff(b"RIFF\x10\0\0\0WAVEfmt "), None);
        assert_eq!(sniff(b"GIF89a"), None);
        assert_eq!(sniff(b""), None);
    }

    #[test]
    fn refuses_what_is_not_an_image() {
        assert_eq!(clean(b"hello, I am text"), Err(Rejected::UnsupportedType));
        let mut broken = png(8, 8);
        broken.truncate(40);
        assert_eq!(clean(&broken), Err(Rejected::Corrupt("PNG")));
        assert_eq!(
            clean(b"\xFF\xD8\xFF\xE0\0\x10JFIF\0garbage"),
            Err(Rejected::Corrupt("JPEG"))
        );
    }

    #[test]
    fn png_is_re_encoded_with_its_size() {
        let cleaned = clean(&png(20, 10)).unwrap();
        assert_eq!(
            (cleaned.kind, cleaned.width, cleaned.height),
            (PhotoType::Png, 20, 10)
        );
        assert_eq!(sniff(&cleaned.bytes), Some(PhotoType::Png));
    }

    #[test]
    fn webp_metadata_chunks_are_dropped() {
        // A VP8X file with an EXIF chunk, an odd-sized unknown chunk and trailing bytes.
        let mut simple = Vec::new();
        DynamicImage::ImageRgb8(image::RgbImage::new(4, 3))
            .write_with_encoder(image::codecs::webp::WebPEncoder::new_lossless(&mut simple))
            .unwrap();
        let vp8l = &simple[12..];
        let mut chunks = Vec::new();
        chunks.extend_from_slice(b"VP8X\x0a\0\0\0");
        chunks.extend_from_slice(&[0x08, 0, 0, 0, 3, 0, 0, 2, 0, 0]);
        chunks.extend_from_slice(vp8l);
        chunks.extend_from_slice(b"EXIF\x06\0\0\0GPS!!!");
        chunks.extend_from_slice(b"XYZW\x03\0\0\0abc\0");
        let mut file = b"RIFF".to_vec();
        file.extend_from_slice(&u32::try_from(chunks.len() + 4).unwrap().to_le_bytes());
        file.extend_from_slice(b"WEBP");
        file.extend_from_slice(&chunks);
        file.extend_from_slice(b"trailing");
        let stripped = strip_webp(&file).unwrap();
        assert!(!stripped.windows(4).any(|w| w == b"EXIF" || w == b"XYZW"));
        assert!(!stripped.ends_with(b"trailing"));
        assert_eq!(stripped[20] & VP8X_METADATA_FLAGS, 0);
        let cleaned = clean(&file).unwrap();
        assert_eq!((cleaned.width, cleaned.height), (4, 3));
        assert_eq!(cleaned.bytes, stripped);
        // The result still decodes.
        assert_eq!(clean(&stripped).unwrap().bytes, stripped);
    }

    #[test]
    fn malformed_webp_containers_are_refused() {
        assert_eq!(strip_webp(b"RIFF\x04\0\0\0WEBP"), None);
        assert_eq!(strip_webp(b"RIFF\xff\0\0\0WEBPVP8L\xff\xff\0\0ab"), None);
        assert_eq!(
            clean(b"RIFF\x0c\0\0\0WEBPVP8L\0\0\0\0"),
            Err(Rejected::Corrupt("WebP"))
        );
    }
}
