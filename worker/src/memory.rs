//! Resident memory of this process, for the `--memory` limit.
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::Mutex;

/// Reads `/proc/self/statm` (kept open: one syscall per reading).
#[derive(Debug)]
pub(crate) struct Rss {
    file: Option<Mutex<File>>,
    page: u64,
}

impl Rss {
    pub fn open() -> Rss {
        let page =
            nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE).ok().flatten().map(|p| p as u64).unwrap_or(4096);
        Rss { file: File::open("/proc/self/statm").ok().map(Mutex::new), page }
    }

    /// Resident set size in bytes; None where /proc is missing.
    pub fn bytes(&self) -> Option<u64> {
        let file = self.file.as_ref()?.lock().ok()?;
        let mut buf = [0u8; 128];
        let n = file.read_at(&mut buf, 0).ok()?;
        let text = std::str::from_utf8(&buf[..n]).ok()?;
        let pages: u64 = text.split_whitespace().nth(1)?.parse().ok()?;
        Some(pages * self.page)
    }
}
