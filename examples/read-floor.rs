//! The floor under `scripts/bench-small-files`: what the kernel alone costs
//! to walk a tree and read every log file in it, with no inflate and no
//! parse. denydiff cannot read the same files faster than this.
//!
//!   cargo run --release --example read-floor -- DIR [THREADS]
//!
//! Walks DIR (`.json.gz` files, `CloudTrail-Digest/` left out; unlike
//! denydiff it does not follow symbolic links, nor sort), then reads each
//! file whole on THREADS threads (default 2), one reused buffer per thread,
//! with the same four system calls a file as denydiff (open, read, read,
//! close), and prints both times in seconds.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            if !path.ends_with("CloudTrail-Digest") {
                walk(&path, out)?;
            }
        } else if path.to_string_lossy().ends_with(".json.gz") {
            out.push(path);
        }
    }
    Ok(())
}

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().unwrap_or_else(|| ".".into()));
    let threads: usize = args.next().and_then(|t| t.parse().ok()).unwrap_or(2);

    let start = Instant::now();
    let mut files = Vec::new();
    walk(&dir, &mut files)?;
    let walked = start.elapsed();

    let start = Instant::now();
    let next = AtomicUsize::new(0);
    let bytes = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..threads.max(1) {
            s.spawn(|| {
                let mut buf = Vec::new();
                while let Some(path) = files.get(next.fetch_add(1, Ordering::Relaxed)) {
                    buf.clear();
                    // Through `Take`, as denydiff reads: `File::read_to_end`
                    // would ask the size first (statx, lseek).
                    if let Ok(f) = std::fs::File::open(path)
                        && f.take(u64::MAX).read_to_end(&mut buf).is_ok()
                    {
                        bytes.fetch_add(buf.len(), Ordering::Relaxed);
                    }
                }
            });
        }
    });
    let read = start.elapsed();
    writeln!(
        std::io::stdout(),
        "files={} bytes={} walk_s={:.3} read_s={:.3} threads={threads}",
        files.len(),
        bytes.load(Ordering::Relaxed),
        walked.as_secs_f64(),
        read.as_secs_f64(),
    )
}
