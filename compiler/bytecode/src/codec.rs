//! `encode` and `decode`: a [`Bytecode`] to the bytes of a `.weirc` and back, with every
//! check of docs/bytecode.md ("Verification") on the way in. The encoding holds only
//! vectors in a fixed order (no hash maps), so the same program gives the same bytes.

use crate::error::{LoadCode, LoadError};
use crate::header::{
    ACCEPTED_VERSIONS, CHECKSUM_LEN, FIXED_HEADER_LEN, FORMAT_VERSION, Header, MAGIC, MAX_HEADER_STRING,
    sha256,
};
use crate::program::Program;
use crate::verify::verify;

/// A whole `.weirc`: the header and the program.
#[derive(Clone, Debug, PartialEq)]
pub struct Bytecode {
    /// What the file says about itself.
    pub header: Header,
    /// The program.
    pub program: Program,
}

/// Writes a `.weirc` in the current format ([`FORMAT_VERSION`], whatever
/// `header.format_version` says). The program is verified first: a file that would not load
/// is never written.
pub fn encode(bytecode: &Bytecode) -> Result<Vec<u8>, LoadError> {
    verify(&bytecode.program)?;
    let h = &bytecode.header;
    let version = h.flow_version.to_string();
    for (what, s) in
        [("compiler version", &h.compiler_version), ("slug", &h.slug), ("flow version", &version)]
    {
        check_header_string(what, s)?;
    }
    let body = postcard::to_stdvec(&bytecode.program)
        .map_err(|e| LoadError::new(LoadCode::MalformedBody, format!("the program does not encode: {e}")))?;
    let header_len = FIXED_HEADER_LEN + 3 + h.compiler_version.len() + h.slug.len() + version.len();
    let header_len = u16::try_from(header_len)
        .map_err(|_| LoadError::new(LoadCode::BadHeader, "the header is longer than 65535 bytes"))?;
    let body_len = u32::try_from(body.len())
        .map_err(|_| LoadError::new(LoadCode::MalformedBody, "the program is larger than 4 GiB"))?;

    let mut out = Vec::with_capacity(usize::from(header_len) + body.len() + CHECKSUM_LEN);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&header_len.to_le_bytes());
    out.extend_from_slice(&body_len.to_le_bytes());
    out.extend_from_slice(&h.source_sha256);
    out.extend_from_slice(&h.interface_sha256);
    for s in [&h.compiler_version, &h.slug, &version] {
        out.push(s.len() as u8); // checked above: at most 255
        out.extend_from_slice(s.as_bytes());
    }
    out.extend_from_slice(&body);
    let checksum = sha256(&out);
    out.extend_from_slice(&checksum);
    Ok(out)
}

fn check_header_string(what: &str, s: &str) -> Result<(), LoadError> {
    if s.is_empty() || s.len() > MAX_HEADER_STRING || s.chars().any(char::is_control) {
        return Err(LoadError::new(
            LoadCode::BadHeader,
            format!("the {what} must be 1 to {MAX_HEADER_STRING} bytes without control characters"),
        ));
    }
    Ok(())
}

/// Reads a `.weirc`, checking (in this order) the magic, the format version, the lengths,
/// the trailing checksum, the header's strings, the body's encoding and then every rule of
/// the verifier. Never panics, whatever the bytes.
pub fn decode(bytes: &[u8]) -> Result<Bytecode, LoadError> {
    let truncated = |what: &str| LoadError::new(LoadCode::Truncated, format!("the file ends inside {what}"));
    if bytes.len() < MAGIC.len() {
        return Err(if MAGIC.starts_with(bytes) && !bytes.is_empty() {
            truncated("the magic bytes")
        } else {
            LoadError::new(LoadCode::BadMagic, "this is not a weir bytecode file (the magic bytes differ)")
        });
    }
    if bytes[..MAGIC.len()] != MAGIC {
        return Err(LoadError::new(
            LoadCode::BadMagic,
            "this is not a weir bytecode file (the magic bytes differ)",
        ));
    }
    let version = u16::from_le_bytes(read::<2>(bytes, 8).ok_or_else(|| truncated("the format version"))?);
    if !ACCEPTED_VERSIONS.contains(&version) {
        let why = if version > FORMAT_VERSION { "newer than" } else { "not one of" };
        return Err(LoadError::new(
            LoadCode::UnsupportedVersion,
            format!("format version {version} is {why} the versions this weir reads ({ACCEPTED_VERSIONS:?})"),
        ));
    }
    if bytes.len() < FIXED_HEADER_LEN {
        return Err(truncated("the header"));
    }
    let header_len =
        usize::from(u16::from_le_bytes(read::<2>(bytes, 10).ok_or_else(|| truncated("the header"))?));
    let body_len = u32::from_le_bytes(read::<4>(bytes, 12).ok_or_else(|| truncated("the header"))?) as usize;
    if header_len < FIXED_HEADER_LEN + 3 {
        return Err(LoadError::new(
            LoadCode::BadHeader,
            format!("the header length {header_len} is too small"),
        ));
    }
    let total = header_len as u64 + body_len as u64 + CHECKSUM_LEN as u64;
    if (bytes.len() as u64) < total {
        return Err(LoadError::new(
            LoadCode::Truncated,
            format!("the file has {} bytes but its header says {total}", bytes.len()),
        ));
    }
    if (bytes.len() as u64) > total {
        return Err(LoadError::new(
            LoadCode::TrailingBytes,
            format!("the file has {} bytes after its checksum", bytes.len() as u64 - total),
        ));
    }
    let content_len = header_len + body_len;
    if sha256(&bytes[..content_len]) != bytes[content_len..] {
        return Err(LoadError::new(
            LoadCode::ChecksumMismatch,
            "the contents do not match the trailing SHA-256",
        ));
    }
    let header = read_header(version, &bytes[..header_len])?;
    let body = &bytes[header_len..content_len];
    let program = match version {
        1 => decode_body_v1(body)?,
        other => {
            return Err(LoadError::new(
                LoadCode::UnsupportedVersion,
                format!("format version {other} has no reader"),
            ));
        }
    };
    verify(&program)?;
    Ok(Bytecode { header, program })
}

fn read<const N: usize>(bytes: &[u8], at: usize) -> Option<[u8; N]> {
    bytes.get(at..at + N)?.try_into().ok()
}

fn read_header(version: u16, h: &[u8]) -> Result<Header, LoadError> {
    let bad = |m: &str| LoadError::new(LoadCode::BadHeader, m.to_string());
    let source_sha256 = read::<32>(h, 16).ok_or_else(|| bad("the source digest is missing"))?;
    let interface_sha256 = read::<32>(h, 48).ok_or_else(|| bad("the interface digest is missing"))?;
    let mut at = FIXED_HEADER_LEN;
    let mut strings = Vec::with_capacity(3);
    for what in ["compiler version", "slug", "flow version"] {
        let len = usize::from(*h.get(at).ok_or_else(|| bad(&format!("the header ends before the {what}")))?);
        let raw =
            h.get(at + 1..at + 1 + len).ok_or_else(|| bad(&format!("the {what} runs past the header")))?;
        let s = std::str::from_utf8(raw).map_err(|_| bad(&format!("the {what} is not UTF-8")))?;
        check_header_string(what, s)?;
        strings.push(s.to_string());
        at += 1 + len;
    }
    if at != h.len() {
        return Err(bad("the header length does not match its fields"));
    }
    let flow_version = semver::Version::parse(&strings[2])
        .map_err(|e| bad(&format!("the flow version `{}` is not semver: {e}", strings[2])))?;
    let mut strings = strings.into_iter();
    Ok(Header {
        format_version: version,
        compiler_version: strings.next().unwrap_or_default(),
        slug: strings.next().unwrap_or_default(),
        flow_version,
        source_sha256,
        interface_sha256,
    })
}

/// The reader of format version 1.
fn decode_body_v1(body: &[u8]) -> Result<Program, LoadError> {
    let (program, rest) = postcard::take_from_bytes::<Program>(body)
        .map_err(|e| LoadError::new(LoadCode::MalformedBody, format!("the program does not decode: {e}")))?;
    if !rest.is_empty() {
        return Err(LoadError::new(
            LoadCode::MalformedBody,
            format!("{} bytes follow the program inside the body", rest.len()),
        ));
    }
    Ok(program)
}
