//! The fixed header of a `.weirc` (docs/bytecode.md, "Header"): what a tool can read
//! without decoding the program, and the format version that decides how to decode it.

use sha2::{Digest, Sha256};

/// The first eight bytes of every `.weirc`: a non-ASCII byte (catches 7-bit transfers), the
/// name, and CR LF (catches newline conversion), as PNG does.
pub const MAGIC: [u8; 8] = *b"\x89WEIRC\r\n";

/// The format version this crate writes.
pub const FORMAT_VERSION: u16 = 1;

/// Every format version this crate reads. A version stays here forever once released;
/// `tests/golden/v<N>-*.weirc` holds a file of each.
pub const ACCEPTED_VERSIONS: &[u16] = &[1];

/// Bytes before the variable-length strings: magic, version, header length, body length,
/// the two digests.
pub const FIXED_HEADER_LEN: usize = 8 + 2 + 2 + 4 + 32 + 32;

/// Bytes of the trailing checksum.
pub const CHECKSUM_LEN: usize = 32;

/// The longest string the header holds (each is prefixed by one length byte).
pub const MAX_HEADER_STRING: usize = 255;

/// What the header says about the flow and its build.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// The format version the file was written in ([`FORMAT_VERSION`] when encoding).
    pub format_version: u16,
    /// The weir that built it (`0.1.0`).
    pub compiler_version: String,
    /// The flow's slug.
    pub slug: String,
    /// The flow's `version`.
    pub flow_version: semver::Version,
    /// SHA-256 of the `.flow` source.
    pub source_sha256: [u8; 32],
    /// SHA-256 of the flow's interface (its `input` and `output`), as the compiler states it.
    pub interface_sha256: [u8; 32],
}

/// SHA-256 of some bytes (for the header's digests).
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// Lower-case hex of a digest.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
