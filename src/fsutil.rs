//! File writing that never leaves a half-written file behind.

use std::io::Write;
use std::path::Path;

/// Writes `bytes` to a temporary file beside `path` (`<name>.<random>.tmp`, so the rename
/// stays on one file system), syncs it, renames it over `path`, then syncs the folder.
///
/// On failure `path` keeps its old contents (or stays absent) and the temporary file is
/// removed. The file gets the permissions `File::create` would give it (0o666 less the umask
/// on Unix), not a temporary file's 0o600.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&name).suffix(".tmp");
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
    // Dropping the temporary file (on any error below, or inside a `PersistError`) deletes it.
    let mut file = builder.tempfile_in(parent(path))?;
    file.write_all(bytes)?;
    file.as_file().sync_all()?;
    file.persist(path).map_err(|e| e.error)?;
    sync_parent(path)
}

/// The name of the file whose [`write_atomically`] left the temporary file `name`
/// (`<name>.<random>.tmp`), which only a process killed in the middle of the write leaves.
pub fn written_for(name: &str) -> Option<&str> {
    name.strip_suffix(".tmp")
        .and_then(|rest| rest.rsplit_once('.'))
        .map(|(target, _)| target)
}

/// Whether two paths name the same folder or file (compared as given where either does not
/// exist yet).
pub fn same_folder(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// Creates folder `path` with what `fill` writes into it: filled as a temporary folder beside
/// it (`.<name>.<random>.tmp`), its files synced, then renamed, so that `path` never exists
/// half-filled. If `path` exists already it is kept as it is (made whole the same way) and
/// the new contents are dropped.
///
/// On failure `path` is left as it was and the temporary folder is removed.
pub fn create_dir_atomically(
    path: &Path,
    fill: impl FnOnce(&Path) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let mut name = std::ffi::OsString::from(".");
    name.push(path.file_name().unwrap_or_default());
    name.push(".");
    // Dropping the temporary folder (on any error below) deletes it.
    let temp = tempfile::Builder::new()
        .prefix(&name)
        .suffix(".tmp")
        .tempdir_in(parent(path))?;
    fill(temp.path())?;
    for entry in std::fs::read_dir(temp.path())? {
        std::fs::File::open(entry?.path())?.sync_all()?;
    }
    #[cfg(unix)]
    std::fs::File::open(temp.path())?.sync_all()?;
    match std::fs::rename(temp.path(), path) {
        Ok(()) => {
            // Renamed away: nothing left to delete.
            let _ = temp.keep();
            sync_parent(path)
        }
        // Another process made it first.
        Err(_) if path.is_dir() => Ok(()),
        Err(e) => Err(e),
    }
}

/// The folder `path` is in (`.` for a bare file name).
pub fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Makes a rename durable: on Unix the folder entry itself must reach the disk.
fn sync_parent(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    std::fs::File::open(parent(path))?.sync_all()?;
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// A fresh, empty folder for one test's files, unique per process and test.
#[cfg(test)]
pub(crate) fn scratch_dir(test: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("gengpu-unit-{}-{test}", std::process::id()));
    // A leftover from an earlier run with the same pid may or may not exist.
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create a scratch folder");
    dir
}

/// The names in folder `dir`, sorted: what a test expects to find there and nothing else.
#[cfg(test)]
pub(crate) fn file_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;

    #[test]
    fn replaces_the_file_and_leaves_nothing_else() {
        let dir = scratch_dir("atomic-replace");
        let path = dir.join("out.bin");
        write_atomically(&path, b"first").expect("write");
        write_atomically(&path, b"second").expect("overwrite");
        assert_eq!(fs::read(&path).expect("read"), b"second");
        assert_eq!(file_names(&dir), ["out.bin"]);
        fs::remove_dir_all(dir).expect("clean up");
    }

    #[test]
    fn a_failed_rename_keeps_the_old_file_and_removes_the_temporary_one() {
        let dir = scratch_dir("atomic-failed-rename");
        // A non-empty folder cannot be replaced by a file: the rename fails after the write.
        let path = dir.join("taken");
        fs::create_dir(&path).expect("create a folder");
        fs::write(path.join("inside"), b"old").expect("write");
        write_atomically(&path, b"new").expect_err("cannot rename over a folder");
        assert_eq!(file_names(&dir), ["taken"]);
        assert_eq!(fs::read(path.join("inside")).expect("read"), b"old");

        let missing = dir.join("no such folder").join("out.bin");
        write_atomically(&missing, b"new").expect_err("the folder is missing");
        assert_eq!(file_names(&dir), ["taken"]);
        fs::remove_dir_all(dir).expect("clean up");
    }

    #[test]
    fn a_folder_appears_whole_or_not_at_all() {
        let dir = scratch_dir("atomic-folder");
        let path = dir.join("entry");
        create_dir_atomically(&path, |temp| fs::write(temp.join("a"), b"first")).expect("create");
        assert_eq!(file_names(&path), ["a"]);
        // An existing folder is kept.
        create_dir_atomically(&path, |temp| fs::write(temp.join("b"), b"second")).expect("keep");
        assert_eq!(file_names(&path), ["a"]);
        // A failed fill leaves nothing behind.
        let other = dir.join("other");
        let failed = create_dir_atomically(&other, |temp| {
            fs::write(temp.join("half"), b"x")?;
            Err(std::io::Error::other("interrupted"))
        });
        assert!(failed.is_err());
        assert_eq!(file_names(&dir), ["entry"]);
        fs::remove_dir_all(dir).expect("clean up");
    }

    #[cfg(unix)]
    #[test]
    fn permissions_are_those_of_a_created_file() {
        use std::os::unix::fs::PermissionsExt;

        let dir = scratch_dir("atomic-permissions");
        let (atomic, plain) = (dir.join("atomic"), dir.join("plain"));
        write_atomically(&atomic, b"x").expect("write");
        fs::write(&plain, b"x").expect("write");
        let mode = |p: &Path| fs::metadata(p).expect("metadata").permissions().mode();
        assert_eq!(mode(&atomic), mode(&plain));
        fs::remove_dir_all(dir).expect("clean up");
    }
}
