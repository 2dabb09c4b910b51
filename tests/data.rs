//! The data module against real files: the bundled digits, MNIST's test set beside the
//! project, Fashion-MNIST where the system has it, and downloads from a local HTTP server.

use std::collections::HashMap;
use std::fs;
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use gengpu::data::{self, DataError, Dataset, FetchEvent, Split, fetch_files};

fn t10k_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/mnist-t10k")
}

/// A fresh empty folder for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("data-{name}"));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn bundled_is_mnist_first_10k() {
    let data = Dataset::bundled();
    assert_eq!((data.count, data.rows, data.cols), (10_000, 28, 28));
    assert_eq!(data.images.len(), 10_000 * 784);
    assert_eq!(data.labels[..10], [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]);
    // The first digit, a 5: its pixel sum, and a pixel in its middle.
    assert_eq!(data.image(0).iter().map(|&p| p as u32).sum::<u32>(), 27_525);
    assert_eq!(data.image(0)[14 * 28 + 14], 240);

    let (train, test) = Dataset::bundled_split();
    assert_eq!((train.count, test.count), (9_000, data::BUNDLED_HOLDOUT));
    assert_eq!(train.labels[..10], data.labels[..10]);
    assert_eq!(test.labels[995..], [5, 8, 6, 9, 7]);
    assert_eq!(test.image(0), data.image(9_000));
}

#[test]
fn default_run_uses_the_bundled_split() {
    let run = data::resolve(None, None, None).unwrap();
    assert_eq!((run.train.count, run.test.count), (9_000, 1_000));
    assert_eq!(
        run.description,
        "bundled MNIST-10k: 9,000 for training, the last 1,000 held out for evaluation"
    );
    let run = data::resolve(None, None, Some(500)).unwrap();
    assert_eq!((run.train.count, run.test.count), (500, 1_000));
    assert_eq!(
        run.description,
        "bundled MNIST-10k: the first 500 of 9,000 for training, the last 1,000 held out for evaluation"
    );
    assert!(matches!(
        data::resolve(None, None, Some(0)),
        Err(DataError::ZeroLimit)
    ));
}

#[test]
fn mnist_test_set_from_folder() {
    let dir = t10k_dir();
    assert!(Dataset::has_split(&dir, Split::Test));
    assert!(!Dataset::has_split(&dir, Split::Train));
    let test = Dataset::from_dir(&dir, Split::Test).unwrap();
    assert_eq!((test.count, test.rows, test.cols), (10_000, 28, 28));
    assert_eq!(test.labels[..10], [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]);
    assert_eq!(test.image(0).iter().map(|&p| p as u32).sum::<u32>(), 18_454);

    // Bundled training data, evaluated on MNIST's own test set: the design's reference run.
    let spec = dir.to_str().unwrap();
    let run = data::resolve(None, Some(spec), None).unwrap();
    assert_eq!((run.train.count, run.test.count), (10_000, 10_000));
    assert_eq!(run.test.labels[..3], [7, 2, 1]);
    assert_eq!(
        run.description,
        format!("bundled MNIST-10k: 10,000 for training; {spec}: 10,000 for evaluation")
    );
}

#[test]
fn bad_specs_say_what_to_do() {
    // A folder with no training files lists what it looked for.
    let err = data::resolve(Some(t10k_dir().to_str().unwrap()), None, None).unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("no training images found")
            && message.contains("train-images-idx3-ubyte.gz"),
        "{message}"
    );

    let err = data::resolve(Some("/nonexistent/mnist-like"), None, None).unwrap_err();
    assert!(err.to_string().contains("no such folder"), "{err}");

    // A dataset name that was never fetched (unless this machine has it in its cache).
    if !Dataset::has_split(data::cache_folder("mnist"), Split::Train) {
        let err = data::resolve(Some("mnist"), None, None).unwrap_err();
        assert!(matches!(err, DataError::NotFetched { .. }));
        assert!(
            err.to_string().contains("run `gengpu data fetch mnist`"),
            "{err}"
        );
    }
}

/// Fashion-MNIST as Debian's `dataset-fashion-mnist` installs it; skipped where absent.
#[test]
fn fashion_mnist_folder_when_installed() {
    let dir = Path::new("/usr/share/datasets/fashion-mnist");
    if !Dataset::has_split(dir, Split::Train) {
        eprintln!("skipped: no Fashion-MNIST in {}", dir.display());
        return;
    }
    let run = data::resolve(dir.to_str(), None, Some(1_000)).unwrap();
    assert_eq!((run.train.count, run.test.count), (1_000, 10_000));
    assert_eq!(run.train.labels[..10], [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]);
    assert_eq!(run.test.labels[..10], [9, 2, 1, 1, 6, 1, 4, 6, 5, 7]);
    assert_eq!(
        run.description,
        format!(
            "{}: the first 1,000 of 60,000 for training, its 10,000 test examples for evaluation",
            dir.display()
        )
    );
}

/// A tiny HTTP server on 127.0.0.1 serving fixed files, one request per connection. It stops
/// when dropped, after 64 requests, or after 30 seconds, whichever comes first.
struct Server {
    url: String,
    requests: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    fn start(files: &[(&str, &[u8])]) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}/files/", listener.local_addr().unwrap());
        let files: HashMap<String, Vec<u8>> = files
            .iter()
            .map(|(name, body)| (format!("/files/{name}"), body.to_vec()))
            .collect();
        let requests = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (requests, stop) = (requests.clone(), stop.clone());
            thread::spawn(move || {
                let deadline = Instant::now() + Duration::from_secs(30);
                while !stop.load(Ordering::Relaxed)
                    && Instant::now() < deadline
                    && requests.load(Ordering::Relaxed) < 64
                {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            requests.fetch_add(1, Ordering::Relaxed);
                            // A failed exchange is the client's to report.
                            let _ = serve(stream, &files);
                        }
                        Err(e) if e.kind() == ErrorKind::WouldBlock => {
                            thread::sleep(Duration::from_millis(5))
                        }
                        Err(_) => break,
                    }
                }
            })
        };
        Server {
            url,
            requests,
            stop,
            thread: Some(thread),
        }
    }

    fn requests(&self) -> usize {
        self.requests.load(Ordering::Relaxed)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(mut stream: TcpStream, files: &HashMap<String, Vec<u8>>) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut request = Vec::new();
    let mut buf = [0u8; 1024];
    while !request.ends_with(b"\r\n\r\n") && request.len() < 16 * 1024 {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        request.extend_from_slice(&buf[..n]);
    }
    let request = String::from_utf8_lossy(&request);
    let path = request.split_whitespace().nth(1).unwrap_or("");
    let (status, body) = match files.get(path) {
        Some(body) => ("200 OK", body.as_slice()),
        None => ("404 Not Found", &b"not here"[..]),
    };
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    stream.write_all(body)?;
    stream.flush()
}

fn md5_hex(bytes: &[u8]) -> String {
    format!("{:x}", md5::compute(bytes))
}

/// The names of the files in `dir`, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn fetch_downloads_verifies_and_skips() {
    let images = vec![7u8; 200_000];
    let labels = b"some labels".to_vec();
    let server = Server::start(&[("a-images.gz", &images), ("a-labels.gz", &labels)]);
    let dir = scratch("fetch-ok");
    let (images_md5, labels_md5) = (md5_hex(&images), md5_hex(&labels));
    let files = [
        ("a-images.gz", images_md5.as_str()),
        ("a-labels.gz", labels_md5.as_str()),
    ];

    let mut events = Vec::new();
    let report = fetch_files(&server.url, &dir, &files, |event| {
        events.push(format!("{event:?}"))
    })
    .unwrap();
    assert_eq!(report.downloaded, ["a-images.gz", "a-labels.gz"]);
    assert!(report.verified.is_empty());
    assert_eq!(fs::read(dir.join("a-images.gz")).unwrap(), images);
    assert_eq!(fs::read(dir.join("a-labels.gz")).unwrap(), labels);
    assert_eq!(listing(&dir), ["a-images.gz", "a-labels.gz"]);
    assert!(events.contains(&format!(
        "{:?}",
        FetchEvent::Started {
            file: "a-images.gz",
            total: Some(200_000)
        }
    )));
    assert!(events.contains(&format!(
        "{:?}",
        FetchEvent::Done {
            file: "a-images.gz",
            bytes: 200_000
        }
    )));
    assert_eq!(server.requests(), 2);

    // Again: both are verified in place, nothing is requested.
    let report = fetch_files(&server.url, &dir, &files, |_| {}).unwrap();
    assert_eq!(report.verified, ["a-images.gz", "a-labels.gz"]);
    assert!(report.downloaded.is_empty());
    assert_eq!(server.requests(), 2);

    // A damaged copy is downloaded again.
    fs::write(dir.join("a-labels.gz"), b"damaged").unwrap();
    let report = fetch_files(&server.url, &dir, &files, |_| {}).unwrap();
    assert_eq!(report.downloaded, ["a-labels.gz"]);
    assert_eq!(fs::read(dir.join("a-labels.gz")).unwrap(), labels);
    assert_eq!(server.requests(), 3);
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn fetch_checksum_mismatch_keeps_nothing() {
    let server = Server::start(&[("f.gz", b"what the server has")]);
    let dir = scratch("fetch-md5");
    let expected = md5_hex(b"what we expected");
    let err = fetch_files(&server.url, &dir, &[("f.gz", &expected)], |_| {}).unwrap_err();
    match &err {
        DataError::Checksum {
            url,
            expected: e,
            actual,
        } => {
            assert_eq!(url, &format!("{}f.gz", server.url));
            assert_eq!(e, &expected);
            assert_eq!(actual, &md5_hex(b"what the server has"));
        }
        other => panic!("expected a checksum error, got {other}"),
    }
    assert!(err.to_string().contains("checksum mismatch"), "{err}");
    assert!(listing(&dir).is_empty(), "{:?}", listing(&dir));
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn fetch_404_is_a_clear_error() {
    let server = Server::start(&[]);
    let dir = scratch("fetch-404");
    let err = fetch_files(
        server.url.trim_end_matches('/'),
        &dir,
        &[("missing.gz", "00000000000000000000000000000000")],
        |_| {},
    )
    .unwrap_err();
    assert!(matches!(err, DataError::Http { .. }));
    assert_eq!(
        err.to_string(),
        format!("{}missing.gz: HTTP 404 Not Found", server.url)
    );
    assert!(listing(&dir).is_empty());
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn fetch_named_dataset_into_a_given_cache() {
    // MNIST's real test files, served locally; the training files are missing on this
    // server, so the fetch stops at the first of them, having kept nothing partial.
    let dir = t10k_dir();
    let t10k_images = fs::read(dir.join("t10k-images-idx3-ubyte.gz")).unwrap();
    let t10k_labels = fs::read(dir.join("t10k-labels-idx1-ubyte.gz")).unwrap();
    let server = Server::start(&[
        ("t10k-images-idx3-ubyte.gz", &t10k_images),
        ("t10k-labels-idx1-ubyte.gz", &t10k_labels),
    ]);
    let cache = scratch("fetch-named");
    let err = data::fetch("mnist", Some(&server.url), Some(&cache), |_| {}).unwrap_err();
    assert!(
        err.to_string()
            .contains("train-images-idx3-ubyte.gz: HTTP 404")
    );
    let folder = cache.join("gengpu/mnist");
    assert!(listing(&folder).is_empty());
    fs::remove_dir_all(&cache).unwrap();
}

#[test]
fn fetch_command_reports_failures_and_keeps_nothing() {
    let dir = t10k_dir();
    let t10k_images = fs::read(dir.join("t10k-images-idx3-ubyte.gz")).unwrap();
    let server = Server::start(&[("t10k-images-idx3-ubyte.gz", &t10k_images)]);
    let cache = scratch("fetch-command");
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_gengpu"))
            .args(args)
            .env("GENGPU_CACHE_DIR", &cache)
            .output()
            .expect("run gengpu")
    };
    let out = run(&["data", "fetch", "mnist", "--base-url", &server.url]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("error:") && stderr.contains("HTTP 404"),
        "{stderr}"
    );
    assert!(listing(&cache.join("gengpu/mnist")).is_empty());

    let out = run(&["data", "fetch", "cifar"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cifar"));

    // Training on a dataset that was never fetched says how to fetch it.
    let out = run(&[
        "train",
        "vae",
        "--data",
        "mnist",
        "--backend",
        "cpu",
        "--out",
        "/nonexistent/run",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("gengpu data fetch mnist"), "{stderr}");
    fs::remove_dir_all(&cache).unwrap();
}
