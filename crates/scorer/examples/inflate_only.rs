//! The floor of the scoring benchmark: inflate every byte the scorer must inflate (each
//! submitted mask and every hidden lung and lesion mask), in parallel, and do nothing else.
//!
//! `cargo run --release -p scorer --example inflate_only -- ANNOTATIONS SUBMISSION.zip`

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};
use std::time::Instant;

use flate2::read::MultiGzDecoder;
use rayon::prelude::*;

fn main() -> io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, annotations, submission] = args.as_slice() else {
        eprintln!("usage: inflate_only ANNOTATIONS SUBMISSION.zip");
        std::process::exit(2);
    };
    let started = Instant::now();
    let mut hidden = Vec::new();
    collect(&Path::new(annotations).join("lungs"), &mut hidden)?;
    collect(&Path::new(annotations).join("lesions"), &mut hidden)?;
    let hidden_bytes: u64 = hidden
        .par_iter()
        .map(|p| inflate(BufReader::new(File::open(p)?)))
        .sum::<io::Result<u64>>()?;
    let entries = zip::ZipArchive::new(File::open(submission)?)
        .map_err(io::Error::other)?
        .len();
    let submitted_bytes: u64 = (0..entries)
        .into_par_iter()
        .map_init(
            || {
                zip::ZipArchive::new(BufReader::new(File::open(submission).expect("submission")))
                    .expect("zip")
            },
            |zip, i| {
                let entry = zip.by_index(i).map_err(io::Error::other)?;
                if entry.name().map(|n| n.ends_with(".gz")).unwrap_or(false) {
                    inflate(BufReader::new(entry))
                } else {
                    io::copy(&mut BufReader::new(entry), &mut io::sink())
                }
            },
        )
        .sum::<io::Result<u64>>()?;
    println!(
        "{{\"seconds\": {:.3}, \"hidden_bytes\": {hidden_bytes}, \"submitted_bytes\": {submitted_bytes}}}",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn inflate(reader: impl Read) -> io::Result<u64> {
    io::copy(&mut MultiGzDecoder::new(reader), &mut io::sink())
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> io::Result<()> {
    if !dir.exists() {
        return Ok(());
    }
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}
