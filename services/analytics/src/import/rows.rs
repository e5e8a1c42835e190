//! The rows of a CSV file, read and parsed one at a time: each is a case or a bad row with
//! every reason. Pure (no store), so the parser can be run over any bytes on its own.

use super::{BadRow, ImportError, ImportedCase, Importer, Positions};
use std::io::Read;

/// One row of the file, parsed.
#[derive(Debug, Clone, PartialEq)]
pub enum ParsedRow {
    Good { line: u64, case: ImportedCase },
    Bad(BadRow),
}

/// The rows of a file after its header, in order (see [`Importer::rows`]). An I/O error ends
/// them; a row the CSV reader cannot read is a bad row.
pub struct Rows<'i, 'p, R: Read> {
    importer: &'i Importer<'p>,
    reader: csv::Reader<CrlfToLf<R>>,
    positions: Positions,
    record: csv::StringRecord,
}

impl<'p> Importer<'p> {
    /// The rows of the CSV `input`; fails only when the header lacks a column of the mapping.
    pub fn rows<R: Read>(&self, input: R) -> Result<Rows<'_, 'p, R>, ImportError> {
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(self.mapping.delimiter.map_or(b',', |c| c as u8))
            .flexible(true)
            .from_reader(CrlfToLf::new(input));
        let positions = self.positions(reader.headers()?)?;
        Ok(Rows { importer: self, reader, positions, record: csv::StringRecord::new() })
    }
}

impl<R: Read> Iterator for Rows<'_, '_, R> {
    type Item = Result<ParsedRow, ImportError>;

    fn next(&mut self) -> Option<Self::Item> {
        let bad = |line: u64, row_id: Option<String>, reason: String| {
            Some(Ok(ParsedRow::Bad(BadRow { line, row_id, reason, duplicate: false })))
        };
        match self.reader.read_record(&mut self.record) {
            Ok(false) => return None,
            Ok(true) => {}
            Err(e) if matches!(e.kind(), csv::ErrorKind::Io(_)) => return Some(Err(e.into())),
            Err(e) => return bad(e.position().map_or(0, |p| p.line()), None, format!("unreadable row: {e}")),
        }
        let record = &self.record;
        let line = record.position().map_or(0, |p| p.line());
        let get =
            |pos: Option<usize>| pos.and_then(|i| record.get(i)).map_or_else(String::new, |s| s.trim().to_string());
        match self.importer.parse_fields(&self.positions, &get) {
            Ok(case) => Some(Ok(ParsedRow::Good { line, case })),
            Err(reasons) => {
                let row_id = Some(get(Some(self.positions.case_id))).filter(|id| !id.is_empty());
                bad(line, row_id, reasons.join("; "))
            }
        }
    }
}

/// `input` with every "\r\n" read as "\n". The csv crate reports the records of a CRLF file
/// (as many platforms export) one line early; a bad row's line number must be the file's.
pub(super) struct CrlfToLf<R> {
    inner: R,
    raw: Vec<u8>,
    out: Vec<u8>,
    pos: usize,
    /// A '\r' at the end of the last chunk: dropped if the next byte is '\n'.
    held_cr: bool,
}

impl<R: Read> CrlfToLf<R> {
    pub(super) fn new(inner: R) -> Self {
        Self { inner, raw: vec![0; 64 * 1024], out: Vec::with_capacity(64 * 1024), pos: 0, held_cr: false }
    }
}

impl<R: Read> Read for CrlfToLf<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.pos == self.out.len() {
            self.out.clear();
            self.pos = 0;
            let n = self.inner.read(&mut self.raw)?;
            if n == 0 {
                if std::mem::take(&mut self.held_cr) {
                    self.out.push(b'\r');
                    break;
                }
                return Ok(0);
            }
            for &byte in &self.raw[..n] {
                if std::mem::take(&mut self.held_cr) && byte != b'\n' {
                    self.out.push(b'\r');
                }
                if byte == b'\r' {
                    self.held_cr = true;
                } else {
                    self.out.push(byte);
                }
            }
        }
        let n = buf.len().min(self.out.len() - self.pos);
        buf[..n].copy_from_slice(&self.out[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}
