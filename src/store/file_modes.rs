//! Private by default: who may read the data folder. Call records, callers' numbers and
//! voicemail are personal data, so the folder is the switch user's alone (0700) and so are
//! its files (0600) — the database with its `-wal` and `-shm` files and the recordings —
//! whatever the umask. Files made by an older version or by hand are put right at start-up.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// Mode of the data folder and the folders in it.
pub const PRIVATE_DIR_MODE: u32 = 0o700;
/// Mode of the database files and recordings.
pub const PRIVATE_FILE_MODE: u32 = 0o600;

/// The folder of voicemail recordings inside the data folder.
pub const VOICEMAIL_DIR: &str = "voicemail";

/// Creates `dir` and any missing parent as 0700. A folder that exists is left as it is
/// ([`make_private`] fixes the data folder's own).
pub fn create_private_dir_all(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(PRIVATE_DIR_MODE);
    }
    builder.create(dir)?;
    set_mode(dir, PRIVATE_DIR_MODE)
}

/// Creates `file` empty as 0600 if it does not exist (SQLite gives its `-wal` and `-shm`
/// files the database file's mode), and makes it 0600 either way.
pub fn create_private_file(file: &Path) -> io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(PRIVATE_FILE_MODE);
    }
    options.open(file)?;
    set_mode(file, PRIVATE_FILE_MODE)
}

/// Sets `path`'s permission bits exactly (the umask plays no part).
pub fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(mode))
    }
    #[cfg(not(unix))]
    {
        let _ = (path, mode);
        Ok(())
    }
}

fn mode_of(path: &Path) -> io::Result<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        Ok(fs::metadata(path)?.permissions().mode() & 0o7777)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        Ok(0)
    }
}

/// Puts the data folder, the database files and the recordings in `data_dir` to their
/// private modes; returns what it changed (path, old mode). Other files an admin keeps in
/// the folder are left alone.
pub fn make_private(data_dir: &Path) -> io::Result<Vec<(PathBuf, u32)>> {
    let mut changed = Vec::new();
    let mut fix = |path: &Path, mode: u32| -> io::Result<()> {
        let old = mode_of(path)?;
        if cfg!(unix) && old != mode {
            set_mode(path, mode)?;
            changed.push((path.to_path_buf(), old));
        }
        Ok(())
    };
    fix(data_dir, PRIVATE_DIR_MODE)?;
    for name in [
        super::DATABASE_FILE.to_string(),
        format!("{}-wal", super::DATABASE_FILE),
        format!("{}-shm", super::DATABASE_FILE),
        format!("{}-journal", super::DATABASE_FILE),
    ] {
        let path = data_dir.join(name);
        if path.is_file() {
            fix(&path, PRIVATE_FILE_MODE)?;
        }
    }
    let voicemail = data_dir.join(VOICEMAIL_DIR);
    if voicemail.is_dir() {
        fix(&voicemail, PRIVATE_DIR_MODE)?;
        for entry in fs::read_dir(&voicemail)? {
            let path = entry?.path();
            if path.is_file() && path.extension().is_some_and(|e| e == "wav") {
                fix(&path, PRIVATE_FILE_MODE)?;
            }
        }
    }
    Ok(changed)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn make_private_fixes_the_folder_the_database_files_and_recordings_only() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        fs::create_dir(&data).unwrap();
        fs::create_dir(data.join(VOICEMAIL_DIR)).unwrap();
        for file in [
            "hotline.db",
            "hotline.db-wal",
            "voicemail/c1.wav",
            "notes.txt",
        ] {
            fs::write(data.join(file), b"x").unwrap();
            set_mode(&data.join(file), 0o644).unwrap();
        }
        set_mode(&data, 0o755).unwrap();
        set_mode(&data.join(VOICEMAIL_DIR), 0o755).unwrap();
        let changed = make_private(&data).unwrap();
        assert_eq!(changed.len(), 5, "{changed:?}");
        assert_eq!(mode_of(&data).unwrap(), 0o700);
        assert_eq!(mode_of(&data.join(VOICEMAIL_DIR)).unwrap(), 0o700);
        assert_eq!(mode_of(&data.join("hotline.db")).unwrap(), 0o600);
        assert_eq!(mode_of(&data.join("hotline.db-wal")).unwrap(), 0o600);
        assert_eq!(mode_of(&data.join("voicemail/c1.wav")).unwrap(), 0o600);
        assert_eq!(mode_of(&data.join("notes.txt")).unwrap(), 0o644);
        assert!(make_private(&data).unwrap().is_empty());
    }

    #[test]
    fn private_folders_and_files_are_created_0700_and_0600() {
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("a/b");
        create_private_dir_all(&nested).unwrap();
        assert_eq!(mode_of(&nested).unwrap(), 0o700);
        assert_eq!(mode_of(&dir.path().join("a")).unwrap(), 0o700);
        let file = nested.join("f");
        create_private_file(&file).unwrap();
        assert_eq!(mode_of(&file).unwrap(), 0o600);
    }
}
