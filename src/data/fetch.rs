//! Downloads MNIST, Fashion-MNIST and CIFAR-10 into a cache folder, checking every file's md5
//! (CIFAR-10's archive is then unpacked: its batch files, nothing else).
//!
//! A file is written as `NAME.part` and renamed only once its checksum is right, so an
//! interrupted or corrupted download never leaves a file that looks complete.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::DataError;

/// The datasets [`fetch`] knows, by name.
pub const DATASETS: &[&str] = &["mnist", "fashion-mnist", "cifar10"];

/// Replaces the system cache folder (`<cache>` in `<cache>/gengpu/<name>`).
pub const CACHE_ENV: &str = "GENGPU_CACHE_DIR";

const MNIST_URL: &str = "https://ossci-datasets.s3.amazonaws.com/mnist/";
const MNIST_FILES: &[(&str, &str)] = &[
    (
        "train-images-idx3-ubyte.gz",
        "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    ),
    (
        "train-labels-idx1-ubyte.gz",
        "d53e105ee54ea40749a09fcbcd1e9432",
    ),
    (
        "t10k-images-idx3-ubyte.gz",
        "9fb629c4189551a2d022fa330f9573f3",
    ),
    (
        "t10k-labels-idx1-ubyte.gz",
        "ec29112dd5afa0611ce80d1b7f02629c",
    ),
];

const FASHION_URL: &str = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/";
const FASHION_FILES: &[(&str, &str)] = &[
    (
        "train-images-idx3-ubyte.gz",
        "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    ),
    (
        "train-labels-idx1-ubyte.gz",
        "25c81989df183df01b3e8a0aad5dffbe",
    ),
    (
        "t10k-images-idx3-ubyte.gz",
        "bef4ecab320f06d8554ea6380940ec79",
    ),
    (
        "t10k-labels-idx1-ubyte.gz",
        "bb300cfdad3c16e7a12a480ee83cd310",
    ),
];

const CIFAR_URL: &str = "https://www.cs.toronto.edu/~kriz/";
/// The binary version's archive and its md5 (as the CIFAR page publishes it).
const CIFAR_ARCHIVE: (&str, &str) = ("cifar-10-binary.tar.gz", "c32a1d4ab5d03f1284b67883e8d87530");
/// The md5 of each batch file in the archive, so unpacked batches are checked too and batches
/// put in the cache by hand are taken without the archive.
const CIFAR_BATCHES: &[(&str, &str)] = &[
    ("data_batch_1.bin", "5dd7e06a14cb22eb9f671a540d1b7c25"),
    ("data_batch_2.bin", "5ea93a67294ea407fff1d09f752e9692"),
    ("data_batch_3.bin", "942cd6a4bcdd0dd3c604fbe906cb4421"),
    ("data_batch_4.bin", "ae636b3ba5c66a11e91e8cb52e771fcb"),
    ("data_batch_5.bin", "53f37980c15c3d472c316c40844f3f0d"),
    ("test_batch.bin", "803d5f7f4d78ea53de84dbe85f74fb6d"),
];

/// What [`fetch_files`] is doing, for a progress display.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchEvent<'a> {
    /// Already there with the right checksum: not downloaded again.
    Verified { file: &'a str },
    /// A download began; `total` is the size the server announced, if it did.
    Started { file: &'a str, total: Option<u64> },
    /// Bytes received so far.
    Progress {
        file: &'a str,
        received: u64,
        total: Option<u64>,
    },
    /// Downloaded, verified and in place.
    Done { file: &'a str, bytes: u64 },
}

/// What a fetch did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchReport {
    /// The folder that now holds every file.
    pub dir: PathBuf,
    pub downloaded: Vec<String>,
    /// Files that were already present and verified.
    pub verified: Vec<String>,
}

/// Where the dataset `name` is (or would be) cached: `<cache>/gengpu/<name>`, where
/// `<cache>` is `$GENGPU_CACHE_DIR` if set, else the system's cache folder.
pub fn cache_folder(name: &str) -> PathBuf {
    let cache = std::env::var_os(CACHE_ENV)
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
        .or_else(dirs::cache_dir)
        .unwrap_or_else(std::env::temp_dir);
    dataset_folder(&cache, name)
}

fn dataset_folder(cache: &Path, name: &str) -> PathBuf {
    cache.join("gengpu").join(name)
}

/// Downloads the four files of dataset `name` ("mnist" or "fashion-mnist") from `base_url`
/// (default: the dataset's usual mirror) into `<cache_dir>/gengpu/<name>` (default cache:
/// see [`cache_folder`]). Files already there with the right checksum are kept.
pub fn fetch(
    name: &str,
    base_url: Option<&str>,
    cache_dir: Option<&Path>,
    progress: impl FnMut(FetchEvent),
) -> Result<FetchReport, DataError> {
    let dir = match cache_dir {
        Some(cache) => dataset_folder(cache, name),
        None => cache_folder(name),
    };
    let (default_url, files) = match name {
        "mnist" => (MNIST_URL, MNIST_FILES),
        "fashion-mnist" => (FASHION_URL, FASHION_FILES),
        "cifar10" => {
            return fetch_archive(
                base_url.unwrap_or(CIFAR_URL),
                &dir,
                CIFAR_ARCHIVE,
                CIFAR_BATCHES,
                progress,
            );
        }
        _ => {
            return Err(DataError::UnknownDataset {
                name: name.to_string(),
            });
        }
    };
    fetch_files(base_url.unwrap_or(default_url), &dir, files, progress)
}

/// Unpacks `members` (file name, md5) of the tar.gz archive `(name, md5)` into `dir`, each
/// checked and put in place through a temporary file and a rename. If every member is there
/// with the right checksum already, nothing is downloaded; otherwise the archive is fetched
/// from `base_url` as [`fetch_files`] does.
pub fn fetch_archive(
    base_url: &str,
    dir: &Path,
    archive: (&str, &str),
    members: &[(&str, &str)],
    mut progress: impl FnMut(FetchEvent),
) -> Result<FetchReport, DataError> {
    if members_verified(dir, members)? {
        for &(file, _) in members {
            progress(FetchEvent::Verified { file });
        }
        return Ok(FetchReport {
            dir: dir.to_path_buf(),
            downloaded: Vec::new(),
            verified: members.iter().map(|(file, _)| file.to_string()).collect(),
        });
    }
    let report = fetch_files(base_url, dir, &[archive], progress)?;
    let path = dir.join(archive.0);
    let file = File::open(&path).map_err(|e| DataError::io(&path, e))?;
    let gz = flate2::read::GzDecoder::new(io::BufReader::new(file));
    let mut tar = tar::Archive::new(gz);
    let bad = |e: io::Error| DataError::io(&path, e);
    for entry in tar.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        let entry_path = entry.path().map_err(bad)?.into_owned();
        let Some(name) = entry_path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let Some(&(member, md5)) = members.iter().find(|(m, _)| *m == name) else {
            continue;
        };
        let part = dir.join(format!("{member}.part"));
        let unpacked =
            write_part(&mut entry, &part, |_| {}, |_, e| bad(e)).and_then(|(_, actual)| {
                if actual.eq_ignore_ascii_case(md5) {
                    let dest = dir.join(member);
                    fs::rename(&part, &dest).map_err(|e| DataError::io(&dest, e))
                } else {
                    Err(DataError::Checksum {
                        url: format!("{} in {}", member, path.display()),
                        expected: md5.to_string(),
                        actual,
                    })
                }
            });
        if unpacked.is_err() {
            let _ = fs::remove_file(&part);
        }
        unpacked?;
    }
    if let Some((missing, _)) = members.iter().find(|(name, _)| !dir.join(name).is_file()) {
        return Err(DataError::Cifar {
            name: path.display().to_string(),
            message: format!("the archive holds no {missing}"),
        });
    }
    Ok(report)
}

/// Whether every one of `files` is in `dir` with its md5.
fn members_verified(dir: &Path, files: &[(&str, &str)]) -> Result<bool, DataError> {
    for &(file, md5) in files {
        let path = dir.join(file);
        if !path.is_file() || !file_md5(&path)?.eq_ignore_ascii_case(md5) {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Downloads `files` (name, md5 in hex) from `base_url` into `dir`, creating it; files
/// already there with the right checksum are kept.
pub fn fetch_files(
    base_url: &str,
    dir: &Path,
    files: &[(&str, &str)],
    mut progress: impl FnMut(FetchEvent),
) -> Result<FetchReport, DataError> {
    fs::create_dir_all(dir).map_err(|e| DataError::io(dir, e))?;
    let agent = agent();
    let mut report = FetchReport {
        dir: dir.to_path_buf(),
        downloaded: Vec::new(),
        verified: Vec::new(),
    };
    for &(file, md5) in files {
        let dest = dir.join(file);
        if dest.is_file() && file_md5(&dest)?.eq_ignore_ascii_case(md5) {
            progress(FetchEvent::Verified { file });
            report.verified.push(file.to_string());
            continue;
        }
        let url = format!("{}/{file}", base_url.trim_end_matches('/'));
        let bytes = download(&agent, &url, file, &dest, md5, &mut progress)?;
        progress(FetchEvent::Done { file, bytes });
        report.downloaded.push(file.to_string());
    }
    Ok(report)
}

/// An HTTP agent that gives up on a dead server instead of hanging: bounded time to connect
/// and to get an answer, and to wait for each chunk of the body. A slow but live download
/// is never cut.
fn agent() -> ureq::Agent {
    let config = ureq::Agent::config_builder()
        .timeout_resolve(Some(Duration::from_secs(30)))
        .timeout_connect(Some(Duration::from_secs(30)))
        .timeout_recv_response(Some(Duration::from_secs(60)))
        .timeout_per_read(Some(Duration::from_secs(60)))
        .user_agent(concat!("gengpu/", env!("CARGO_PKG_VERSION")))
        .build();
    ureq::Agent::new_with_config(config)
}

/// Downloads `url` to `dest` through `dest.part`; returns the size.
fn download(
    agent: &ureq::Agent,
    url: &str,
    file: &str,
    dest: &Path,
    md5: &str,
    progress: &mut impl FnMut(FetchEvent),
) -> Result<u64, DataError> {
    let response = agent.get(url).call().map_err(|e| http_error(url, e))?;
    let total = response.body().content_length();
    progress(FetchEvent::Started { file, total });
    let mut body = response.into_body().into_reader();

    let part = dest.with_file_name(format!("{file}.part"));
    let received = |received| {
        progress(FetchEvent::Progress {
            file,
            received,
            total,
        })
    };
    let failed = |received, e| DataError::Http {
        url: url.to_string(),
        message: format!("download failed after {received} bytes: {e}"),
    };
    let result = write_part(&mut body, &part, received, failed).and_then(|(bytes, actual)| {
        if actual.eq_ignore_ascii_case(md5) {
            fs::rename(&part, dest).map_err(|e| DataError::io(dest, e))?;
            Ok(bytes)
        } else {
            Err(DataError::Checksum {
                url: url.to_string(),
                expected: md5.to_string(),
                actual,
            })
        }
    });
    if result.is_err() {
        // Best effort: the error being reported matters more than a failed clean-up.
        let _ = fs::remove_file(&part);
    }
    result
}

/// Streams `body` into `part`, hashing as it goes and telling `progress` the bytes so far;
/// returns the size and the md5. A failed read becomes `read_error(bytes so far, error)`.
fn write_part(
    body: &mut impl Read,
    part: &Path,
    mut progress: impl FnMut(u64),
    read_error: impl Fn(u64, io::Error) -> DataError,
) -> Result<(u64, String), DataError> {
    let mut out = File::create(part).map_err(|e| DataError::io(part, e))?;
    let mut hash = md5::Context::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut received = 0u64;
    loop {
        let n = match body.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(read_error(received, e)),
        };
        hash.consume(&buf[..n]);
        out.write_all(&buf[..n])
            .map_err(|e| DataError::io(part, e))?;
        received += n as u64;
        progress(received);
    }
    out.sync_all().map_err(|e| DataError::io(part, e))?;
    Ok((received, format!("{:x}", hash.finalize())))
}

fn file_md5(path: &Path) -> Result<String, DataError> {
    let mut file = File::open(path).map_err(|e| DataError::io(path, e))?;
    let mut hash = md5::Context::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => hash.consume(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(DataError::io(path, e)),
        }
    }
    Ok(format!("{:x}", hash.finalize()))
}

fn http_error(url: &str, error: ureq::Error) -> DataError {
    let message = match error {
        ureq::Error::StatusCode(code) => {
            let reason = ureq::http::StatusCode::from_u16(code)
                .ok()
                .and_then(|status| status.canonical_reason())
                .unwrap_or("");
            format!("HTTP {code} {reason}").trim_end().to_string()
        }
        other => format!("download failed: {other}"),
    };
    DataError::Http {
        url: url.to_string(),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_dataset_lists_known_ones() {
        let err = fetch("cifar", None, Some(Path::new("/nonexistent")), |_| {}).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown dataset \"cifar\" (known: mnist, fashion-mnist, cifar10)"
        );
    }

    #[test]
    fn every_cifar_batch_has_a_checksum() {
        let names: Vec<_> = CIFAR_BATCHES
            .iter()
            .map(|(name, _)| name.to_string())
            .collect();
        assert_eq!(names, super::super::cifar::batch_names());
    }

    #[test]
    fn cache_layout() {
        assert_eq!(
            dataset_folder(Path::new("/c"), "mnist"),
            Path::new("/c/gengpu/mnist")
        );
        assert!(cache_folder("mnist").ends_with("gengpu/mnist"));
    }

    #[test]
    fn status_errors_say_the_code() {
        let err = http_error("http://x/f", ureq::Error::StatusCode(404));
        assert_eq!(err.to_string(), "http://x/f: HTTP 404 Not Found");
    }
}
