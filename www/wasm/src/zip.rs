//! A ZIP archive writer for the packager's download: stored entries (media does not compress),
//! UTF-8 names, no ZIP64 (APPNOTE.TXT 6.3.10 §4.3–§4.4).

use std::fmt;

/// The most entries a ZIP file without ZIP64 extensions holds.
const MAX_ENTRIES: usize = u16::MAX as usize;

/// Why an archive cannot be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ZipError {
    /// More than 4 GiB or 65,535 files: would need ZIP64.
    TooLarge,
    /// A name longer than 65,535 bytes.
    NameTooLong,
}

impl fmt::Display for ZipError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge => f.write_str("the output is too large for a ZIP file (over 4 GiB or 65,535 files)"),
            Self::NameTooLong => f.write_str("a file name is longer than a ZIP file allows"),
        }
    }
}

impl std::error::Error for ZipError {}

/// Builds a ZIP file in memory, one entry at a time.
pub struct ZipWriter {
    out: Vec<u8>,
    central: Vec<u8>,
    entries: usize,
    time: u16,
    date: u16,
}

/// General purpose flag bit 11: names are UTF-8.
const FLAG_UTF8: u16 = 1 << 11;
/// Version needed to extract stored entries: 1.0.
const VERSION_NEEDED: u16 = 10;
/// Version made by: Unix (3) in the high byte, so the external attributes carry a file mode.
const VERSION_MADE_BY: u16 = (3 << 8) | 20;
/// `-rw-r--r--`, a regular file.
const UNIX_MODE: u32 = 0o100_644;

impl ZipWriter {
    /// A new archive whose entries carry the modification time `unix_seconds` (UTC).
    pub fn new(unix_seconds: i64) -> Self {
        let (time, date) = dos_date_time(unix_seconds);
        Self { out: Vec::new(), central: Vec::new(), entries: 0, time, date }
    }

    /// Appends a file.
    pub fn add(&mut self, name: &str, data: &[u8]) -> Result<(), ZipError> {
        let name_len = u16::try_from(name.len()).map_err(|_| ZipError::NameTooLong)?;
        let size = u32::try_from(data.len()).map_err(|_| ZipError::TooLarge)?;
        let offset = u32::try_from(self.out.len()).map_err(|_| ZipError::TooLarge)?;
        if self.entries == MAX_ENTRIES {
            return Err(ZipError::TooLarge);
        }
        let crc = crc32(data);
        let out = &mut self.out;
        out.reserve(30 + name.len() + data.len());
        put32(out, 0x0403_4b50);
        for v in [VERSION_NEEDED, FLAG_UTF8, 0, self.time, self.date] {
            put16(out, v);
        }
        for v in [crc, size, size] {
            put32(out, v);
        }
        put16(out, name_len);
        put16(out, 0);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(data);

        let c = &mut self.central;
        put32(c, 0x0201_4b50);
        for v in [VERSION_MADE_BY, VERSION_NEEDED, FLAG_UTF8, 0, self.time, self.date] {
            put16(c, v);
        }
        for v in [crc, size, size] {
            put32(c, v);
        }
        for v in [name_len, 0, 0, 0, 0] {
            put16(c, v);
        }
        put32(c, UNIX_MODE << 16);
        put32(c, offset);
        c.extend_from_slice(name.as_bytes());
        self.entries += 1;
        Ok(())
    }

    /// The finished archive: the entries, the central directory and its end record.
    pub fn finish(mut self) -> Result<Vec<u8>, ZipError> {
        let offset = u32::try_from(self.out.len()).map_err(|_| ZipError::TooLarge)?;
        let size = u32::try_from(self.central.len()).map_err(|_| ZipError::TooLarge)?;
        if u32::try_from(self.out.len() + self.central.len()).is_err() {
            return Err(ZipError::TooLarge);
        }
        let entries = self.entries as u16; // at most MAX_ENTRIES
        self.out.append(&mut self.central);
        let out = &mut self.out;
        put32(out, 0x0605_4b50);
        for v in [0, 0, entries, entries] {
            put16(out, v);
        }
        put32(out, size);
        put32(out, offset);
        put16(out, 0);
        Ok(self.out)
    }
}

fn put16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// MS-DOS time and date fields of a Unix time (UTC; before 1980 becomes 1980-01-01 00:00:00).
fn dos_date_time(unix_seconds: i64) -> (u16, u16) {
    const JAN_1_1980: i64 = 315_532_800;
    const DEC_31_2107: i64 = 4_354_819_199;
    let t = unix_seconds.clamp(JAN_1_1980, DEC_31_2107);
    let (days, secs) = (t.div_euclid(86_400), t.rem_euclid(86_400));
    let (year, month, day) = rapidrtmp_core::date::civil_from_days(days);
    let time = ((secs / 3600) << 11) | ((secs / 60 % 60) << 5) | ((secs % 60) / 2);
    let date = ((year - 1980) << 9) | (month << 5) | day;
    (time as u16, date as u16)
}

/// CRC-32 (IEEE 802.3, reflected, as ZIP uses it).
fn crc32(data: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut table = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut c = i as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 != 0 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
                k += 1;
            }
            table[i] = c;
            i += 1;
        }
        table
    };
    !data.iter().fold(!0u32, |c, &b| TABLE[((c ^ u32::from(b)) & 0xFF) as usize] ^ (c >> 8))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn dos_times() {
        // 2026-11-24 02:38:27 UTC
        assert_eq!(dos_date_time(1_795_487_907), ((2 << 11) | (38 << 5) | 13, (46 << 9) | (11 << 5) | 24));
        assert_eq!(dos_date_time(0), (0, (1 << 5) | 1));
        // 2000-02-29 (leap day) 23:59:58
        assert_eq!(dos_date_time(951_868_798), ((23 << 11) | (59 << 5) | 29, (20 << 9) | (2 << 5) | 29));
    }

    #[test]
    fn archive_layout() {
        let mut z = ZipWriter::new(0);
        z.add("0/a.m4s", b"hello").unwrap();
        z.add("index.m3u8", b"").unwrap();
        let bytes = z.finish().unwrap();
        // Local header, name and data of the first entry.
        assert_eq!(&bytes[..4], b"PK\x03\x04");
        assert_eq!(&bytes[30..37], b"0/a.m4s");
        assert_eq!(&bytes[37..42], b"hello");
        // End of central directory: 2 entries, directory right after the entries.
        let eocd = &bytes[bytes.len() - 22..];
        assert_eq!(&eocd[..4], b"PK\x05\x06");
        assert_eq!(u16::from_le_bytes([eocd[10], eocd[11]]), 2);
        let cd_offset = u32::from_le_bytes(eocd[16..20].try_into().unwrap()) as usize;
        assert_eq!(cd_offset, 42 + 30 + 10);
        assert_eq!(&bytes[cd_offset..cd_offset + 4], b"PK\x01\x02");
    }

    #[test]
    fn long_names_are_refused() {
        let mut z = ZipWriter::new(0);
        assert_eq!(z.add(&"a".repeat(70_000), b""), Err(ZipError::NameTooLong));
    }
}
