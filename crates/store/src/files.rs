//! Files the node writes for itself are private to its user: folders 0700, files 0600 (the
//! configuration holds password digests and key digests, the database holds TLP:RED objects).
//! On other platforms the defaults of the operating system apply.

use std::{
    io::Write,
    path::{Path, PathBuf},
};

/// Creates `dir` and any missing parents, each new one readable by its owner only (0700).
/// Folders that already exist keep their permissions.
pub fn create_private_dir_all(dir: &Path) -> std::io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir)
}

/// Creates `path` empty with mode 0600 when it does not exist (an existing file is left alone).
pub fn touch_private(path: &Path) -> std::io::Result<()> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    o.open(path).map(drop)
}

/// Writes `bytes` to `path` whole or not at all: into a new file beside it (0600), synced, then
/// renamed over `path`. A file that existed keeps its owner and group where the process may set
/// them, and at most its owner and group read bits besides the owner's read and write: others
/// never keep access.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".to_owned());
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    let result = (|| {
        let mut f = o.open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        #[cfg(unix)]
        if let Ok(old) = std::fs::metadata(path) {
            use std::os::unix::fs::{MetadataExt, PermissionsExt};
            let _ = std::os::unix::fs::fchown(&f, Some(old.uid()), Some(old.gid()));
            let mode = (old.mode() & 0o640) | 0o600;
            f.set_permissions(std::fs::Permissions::from_mode(mode))?;
        }
        drop(f);
        std::fs::rename(&tmp, path)?;
        if let Ok(d) = std::fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(all(test, unix))]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn new_files_and_folders_are_private() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("a/b");
        create_private_dir_all(&d).unwrap();
        assert_eq!(mode(&t.path().join("a")), 0o700);
        assert_eq!(mode(&d), 0o700);
        let f = d.join("x.db");
        touch_private(&f).unwrap();
        assert_eq!(mode(&f), 0o600);
        let c = d.join("c.toml");
        write_private(&c, b"one").unwrap();
        assert_eq!(mode(&c), 0o600);
        // An existing world-readable file loses the others' access when rewritten.
        std::fs::set_permissions(&c, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_private(&c, b"two").unwrap();
        assert_eq!(mode(&c), 0o640);
        assert_eq!(std::fs::read(&c).unwrap(), b"two");
        assert_eq!(
            std::fs::read_dir(&d).unwrap().count(),
            2,
            "no temporary file left"
        );
    }
}
