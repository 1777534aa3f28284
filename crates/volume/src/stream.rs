//! The byte stream under every reader: gzip recognised by its magic bytes (never by a
//! file name), the header read and checked against the caller's limits, extensions
//! skipped, then the voxel data handed out in chunks, reading exactly the bytes the header
//! declares and nothing after.
//!
//! Stopping after the declared bytes is what makes zip and gzip bombs harmless: whatever
//! follows the data in a stream, however large once inflated, is never inflated.

use std::io::{ErrorKind, Read};

use flate2::read::MultiGzDecoder;

use crate::error::{Error, Part, Result};
use crate::header::{HEADER_SIZE, Header};
use crate::limits::Limits;
use crate::sample::Sample;

/// Bytes of voxel data decoded at a time. A multiple of 64 values for every type, so each
/// chunk starts on a mask word boundary; small enough to stay in the L2 cache.
const CHUNK_BYTES: usize = 1 << 16;

/// The first two bytes of every gzip member.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// A decompressed (or plain) NIfTI byte stream that knows how to report its failures.
pub(crate) struct Stream<'a> {
    inner: &'a mut dyn Read,
    gzip: bool,
}

impl Stream<'_> {
    /// Fills `buf` completely; `done` and `total` are the byte counts of `part` used in the
    /// error when the stream ends early.
    fn fill(&mut self, buf: &mut [u8], part: Part, done: u64, total: u64) -> Result<()> {
        let mut filled = 0;
        while filled < buf.len() {
            let got = done + filled as u64;
            match self.inner.read(&mut buf[filled..]) {
                Ok(0) => {
                    return Err(Error::Truncated {
                        part,
                        got,
                        expected: total,
                    });
                }
                // `min` guards against a reader that claims more than it was given.
                Ok(n) => filled += n.min(buf.len() - filled),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(source) => {
                    return Err(match source.kind() {
                        ErrorKind::UnexpectedEof => Error::Truncated {
                            part,
                            got,
                            expected: total,
                        },
                        ErrorKind::InvalidInput | ErrorKind::InvalidData if self.gzip => {
                            Error::Gzip { part, source }
                        }
                        _ => Error::Io { part, source },
                    });
                }
            }
        }
        Ok(())
    }

    /// Reads and discards `count` bytes (header extensions) through a stack buffer.
    fn skip(&mut self, count: u64, part: Part) -> Result<()> {
        let mut buf = [0u8; 4096];
        let mut done = 0u64;
        while done < count {
            let n = (count - done).min(buf.len() as u64) as usize;
            self.fill(&mut buf[..n], part, done, count)?;
            done += n as u64;
        }
        Ok(())
    }

    /// Feeds the voxel data to `f` as typed values, chunk by chunk; `f` gets the memory-order
    /// index of the chunk's first voxel, always a multiple of 64.
    pub(crate) fn for_each_chunk<T: Sample>(
        &mut self,
        header: &Header,
        mut f: impl FnMut(usize, &[T]) -> Result<()>,
    ) -> Result<()> {
        let voxels = header.geometry.voxel_count();
        let total = voxels as u64 * T::SIZE as u64;
        let per_chunk = CHUNK_BYTES / T::SIZE;
        let mut bytes = vec![0u8; per_chunk.min(voxels) * T::SIZE];
        let mut values = Vec::with_capacity(per_chunk.min(voxels));
        let mut start = 0;
        while start < voxels {
            let n = per_chunk.min(voxels - start);
            let buf = &mut bytes[..n * T::SIZE];
            self.fill(buf, Part::VoxelData, (start * T::SIZE) as u64, total)?;
            values.clear();
            T::decode(buf, header.byte_order, &mut values);
            f(start, &values)?;
            start += n;
        }
        Ok(())
    }
}

/// Opens `reader` (gzip or not), reads the header, checks `limits`, skips to `vox_offset`
/// and hands the stream positioned on the voxel data to `body`.
pub(crate) fn with_stream<R: Read, T>(
    mut reader: R,
    limits: &Limits,
    body: impl FnOnce(&mut Stream<'_>, &Header) -> Result<T>,
) -> Result<(Header, T)> {
    // Peek two bytes for the gzip magic; a file's name says nothing reliable about this.
    let mut magic = [0u8; 2];
    let mut peeked = 0;
    while peeked < magic.len() {
        match reader.read(&mut magic[peeked..]) {
            Ok(0) => break,
            Ok(n) => peeked += n.min(magic.len() - peeked),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(source) => {
                return Err(Error::Io {
                    part: Part::Header,
                    source,
                });
            }
        }
    }
    let gzip = magic == GZIP_MAGIC && peeked == 2;
    let whole = (&magic[..peeked]).chain(reader);
    let (mut inflated, mut plain);
    let inner: &mut dyn Read = if gzip {
        // Multi-member: some writers (and `cat a.gz b.gz`) produce several gzip members.
        inflated = MultiGzDecoder::new(whole);
        &mut inflated
    } else {
        plain = whole;
        &mut plain
    };
    let mut stream = Stream { inner, gzip };
    let mut raw = [0u8; HEADER_SIZE];
    stream.fill(&mut raw, Part::Header, 0, HEADER_SIZE as u64)?;
    let header = Header::parse(&raw)?;
    limits.check(&header)?;
    stream.skip(header.vox_offset - HEADER_SIZE as u64, Part::Extensions)?;
    let value = body(&mut stream, &header)?;
    Ok((header, value))
}
