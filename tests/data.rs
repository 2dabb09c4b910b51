//! The data module against real files: the bundled digits, MNIST's test set beside the
//! project, Fashion-MNIST where the system has it, and downloads from a local HTTP server.

mod common;

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
    let Some(dir) = common::shared_t10k("mnist_test_set_from_folder") else {
        return;
    };
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
    if let Some(t10k) = common::shared_t10k("bad_specs_say_what_to_do") {
        let err = data::resolve(Some(t10k.to_str().unwrap()), None, None).unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains("no training images found")
                && message.contains("train-images-idx3-ubyte.gz"),
            "{message}"
        );
    }

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
    let (test, _) = data::resolve_test(dir.to_str(), None, data::Pictures::default()).unwrap();
    assert_eq!(test, run.test);
}

/// The bytes of an uncompressed IDX file: `magic`, the sizes, then the data.
fn idx_bytes(magic: u32, dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut bytes = magic.to_be_bytes().to_vec();
    for d in dims {
        bytes.extend_from_slice(&d.to_be_bytes());
    }
    bytes.extend_from_slice(data);
    bytes
}

/// Writes `count` 2x2 images of `split` ("train" or "t10k") into `dir`, image i filled with
/// `first + i`, and `labels` labels if given (all 3).
fn write_split(dir: &Path, split: &str, count: u8, first: u8, labels: Option<u8>) {
    let pixels: Vec<u8> = (0..count).flat_map(|i| [first + i; 4]).collect();
    fs::write(
        dir.join(format!("{split}-images-idx3-ubyte")),
        idx_bytes(0x803, &[count.into(), 2, 2], &pixels),
    )
    .unwrap();
    if let Some(n) = labels {
        fs::write(
            dir.join(format!("{split}-labels-idx1-ubyte")),
            idx_bytes(0x801, &[n.into()], &vec![3; n.into()]),
        )
        .unwrap();
    }
}

/// `resolve_test` chooses the same evaluation set as `resolve`: same images, same count, same
/// name; its sentence is the evaluation part of `resolve`'s.
fn assert_same_test_set(spec: Option<&str>, test_spec: Option<&str>) -> (Dataset, String) {
    let run = data::resolve(spec, test_spec, None).unwrap();
    let (test, description) =
        data::resolve_test(spec, test_spec, data::Pictures::default()).unwrap();
    assert_eq!(test, run.test, "spec {spec:?}, test spec {test_spec:?}");
    // Also with a limit, which never cuts the evaluation set.
    let limited = data::resolve(spec, test_spec, Some(3)).unwrap();
    assert_eq!(test, limited.test);
    (test, description)
}

#[test]
fn folder_of_images_without_labels() {
    // Training images only: the last 10% held out, no labels anywhere.
    let dir = scratch("images-only");
    write_split(&dir, "train", 20, 0, None);
    assert!(Dataset::has_split(&dir, Split::Train));
    assert!(!Dataset::has_split(&dir, Split::Test));
    let train = Dataset::from_dir(&dir, Split::Train).unwrap();
    assert_eq!((train.count, train.rows, train.cols), (20, 2, 2));
    assert!(train.labels.is_empty());
    let spec = dir.to_str().unwrap();
    let run = data::resolve(Some(spec), None, None).unwrap();
    assert_eq!((run.train.count, run.test.count), (18, 2));
    assert!(run.train.labels.is_empty() && run.test.labels.is_empty());
    assert_eq!(run.test.image(0), [18; 4]);
    assert_eq!(
        run.description,
        format!("{spec}: 18 for training, the last 2 held out for evaluation")
    );

    // And with t10k images, also unlabelled: they are the evaluation set.
    write_split(&dir, "t10k", 5, 100, None);
    assert!(Dataset::has_split(&dir, Split::Test));
    let run = data::resolve(Some(spec), None, None).unwrap();
    assert_eq!((run.train.count, run.test.count), (20, 5));
    assert!(run.test.labels.is_empty());
    assert_eq!(run.test.image(4), [104; 4]);
    assert_eq!(
        run.description,
        format!("{spec}: 20 for training, its 5 test examples for evaluation")
    );
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn labels_when_present_must_match_the_images() {
    let dir = scratch("labels-mismatch");
    write_split(&dir, "train", 20, 0, Some(20));
    let train = Dataset::from_dir(&dir, Split::Train).unwrap();
    assert_eq!(train.labels, [3; 20]);

    write_split(&dir, "train", 20, 0, Some(19));
    let err = data::resolve(dir.to_str(), None, None).unwrap_err();
    assert!(matches!(err, DataError::CountMismatch { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        format!(
            "{0}/train-images-idx3-ubyte holds 20 images but {0}/train-labels-idx1-ubyte holds 19 labels",
            dir.display()
        )
    );
    // Mismatched test labels fail too, whichever resolver reads them.
    write_split(&dir, "train", 20, 0, None);
    write_split(&dir, "t10k", 5, 0, Some(6));
    for err in [
        data::resolve(dir.to_str(), None, None).unwrap_err(),
        data::resolve_test(dir.to_str(), None, data::Pictures::default()).unwrap_err(),
    ] {
        assert!(matches!(err, DataError::CountMismatch { .. }), "{err}");
    }
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn empty_folder_lists_the_image_files_looked_for() {
    let dir = scratch("empty");
    // Label files alone are no data.
    fs::write(
        dir.join("train-labels-idx1-ubyte"),
        idx_bytes(0x801, &[1], &[0]),
    )
    .unwrap();
    let spec = dir.to_str().unwrap();
    let err = data::resolve(Some(spec), None, None).unwrap_err();
    assert!(matches!(err, DataError::MissingFiles { .. }));
    assert_eq!(
        err.to_string(),
        format!(
            "{spec}: no training images found (looked for train-images-idx3-ubyte.gz, \
             train-images-idx3-ubyte, train-images.idx3-ubyte.gz, train-images.idx3-ubyte, \
             PNG or JPEG pictures in it or its subfolders)"
        )
    );
    // Evaluation alone would take either split: both are listed.
    let err = data::resolve_test(Some(spec), None, data::Pictures::default()).unwrap_err();
    assert!(matches!(err, DataError::MissingFiles { .. }));
    assert_eq!(
        err.to_string(),
        format!(
            "{spec}: no test or training images found (looked for t10k-images-idx3-ubyte.gz, \
             t10k-images-idx3-ubyte, t10k-images.idx3-ubyte.gz, t10k-images.idx3-ubyte, \
             train-images-idx3-ubyte.gz, train-images-idx3-ubyte, train-images.idx3-ubyte.gz, \
             train-images.idx3-ubyte, PNG or JPEG pictures in it or its subfolders)"
        )
    );
    // As evaluation data named by a test spec.
    let err = data::resolve_test(None, Some(spec), data::Pictures::default()).unwrap_err();
    assert!(
        err.to_string().contains("no training images found")
            && err.to_string().contains("PNG or JPEG pictures"),
        "{err}"
    );
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn resolve_test_matches_resolve() {
    // Bundled: the last 1,000 digits.
    let (test, description) = assert_same_test_set(None, None);
    assert_eq!(test.count, data::BUNDLED_HOLDOUT);
    assert_eq!(test, Dataset::bundled_split().1);
    assert_eq!(
        description,
        "bundled MNIST-10k: the last 1,000 held out for evaluation"
    );

    // A folder with a t10k split: that split, and the training files are not read (here
    // they are not even valid).
    let with_t10k = scratch("resolve-test-t10k");
    write_split(&with_t10k, "train", 20, 0, Some(20));
    write_split(&with_t10k, "t10k", 5, 50, Some(5));
    let spec = with_t10k.to_str().unwrap();
    let (test, description) = assert_same_test_set(Some(spec), None);
    assert_eq!((test.count, test.image(0)), (5, &[50; 4][..]));
    assert_eq!(
        description,
        format!("{spec}: its 5 test examples for evaluation")
    );
    fs::write(with_t10k.join("train-images-idx3-ubyte"), b"not IDX").unwrap();
    assert!(data::resolve(Some(spec), None, None).is_err());
    assert_eq!(
        data::resolve_test(Some(spec), None, data::Pictures::default())
            .unwrap()
            .0,
        test
    );
    write_split(&with_t10k, "train", 20, 0, None);
    let with_t10k_spec = with_t10k.to_str();

    // A folder without one: the hold-out of its training data.
    let without_t10k = scratch("resolve-test-holdout");
    write_split(&without_t10k, "train", 30, 0, Some(30));
    let spec = without_t10k.to_str().unwrap();
    let (test, description) = assert_same_test_set(Some(spec), None);
    assert_eq!((test.count, test.image(0)), (3, &[27; 4][..]));
    assert_eq!(
        description,
        format!("{spec}: the last 3 held out for evaluation")
    );

    // An explicit test spec wins over both: MNIST's test set for the bundled digits, and
    // another folder's t10k split for a folder with one of its own.
    if let Some(t10k) = common::shared_t10k("resolve_test_matches_resolve") {
        let test_spec = t10k.to_str().unwrap();
        let (test, description) = assert_same_test_set(None, Some(test_spec));
        assert_eq!((test.count, test.rows, test.cols), (10_000, 28, 28));
        assert_eq!(test.labels[..3], [7, 2, 1]);
        assert_eq!(description, format!("{test_spec}: 10,000 for evaluation"));
        // As the data of an evaluation, that folder needs no training files (a run would).
        let (alone, description) =
            data::resolve_test(Some(test_spec), None, data::Pictures::default()).unwrap();
        assert_eq!(alone.images, test.images);
        assert_eq!(
            description,
            format!("{test_spec}: its 10,000 test examples for evaluation")
        );
    }
    let given = scratch("resolve-test-given");
    write_split(&given, "train", 20, 0, None);
    write_split(&given, "t10k", 6, 70, None);
    let (test, description) = assert_same_test_set(with_t10k_spec, given.to_str());
    assert_eq!((test.count, test.image(5)), (6, &[75; 4][..]));
    assert_eq!(
        description,
        format!("{}: 6 for evaluation", given.display())
    );
    // A test spec of only training files is evaluated on those.
    let train_only = scratch("resolve-test-given-train");
    write_split(&train_only, "train", 7, 9, None);
    let (test, description) = assert_same_test_set(with_t10k_spec, train_only.to_str());
    assert_eq!((test.count, test.image(0)), (7, &[9; 4][..]));
    assert_eq!(
        description,
        format!("{}: 7 for evaluation", train_only.display())
    );
    for dir in [&with_t10k, &without_t10k, &given, &train_only] {
        fs::remove_dir_all(dir).unwrap();
    }
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
    let Some(dir) = common::shared_t10k("fetch_named_dataset_into_a_given_cache") else {
        return;
    };
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
    let Some(dir) = common::shared_t10k("fetch_command_reports_failures_and_keeps_nothing") else {
        return;
    };
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

/// A CIFAR-10 batch of `count` records: record i labelled i % 10, its red plane i, green
/// i + 1 and blue i + 2 everywhere but pixel 0 of the red plane, which is 200.
fn cifar_batch(count: usize) -> Vec<u8> {
    let mut bytes = Vec::new();
    for i in 0..count {
        bytes.push((i % 10) as u8);
        for plane in 0..3 {
            let mut values = vec![(i + plane) as u8; 1024];
            if plane == 0 {
                values[0] = 200;
            }
            bytes.extend(values);
        }
    }
    bytes
}

/// CIFAR-10's six batch files in `dir`, `count` records each.
fn cifar_folder(dir: &Path, count: usize) {
    fs::create_dir_all(dir).unwrap();
    for i in 1..=5 {
        fs::write(dir.join(format!("data_batch_{i}.bin")), cifar_batch(count)).unwrap();
    }
    fs::write(dir.join("test_batch.bin"), cifar_batch(count)).unwrap();
}

#[test]
fn cifar10_batches_read_as_channels_last_colour_images() {
    let dir = std::env::temp_dir().join(format!("gengpu-data-cifar-{}", std::process::id()));
    cifar_folder(&dir, 4);
    let run = data::resolve(dir.to_str(), None, None).unwrap();
    assert_eq!(
        (run.train.count, run.test.count),
        (20, 4),
        "{}",
        run.description
    );
    assert!(run.description.contains("CIFAR-10"), "{}", run.description);
    let train = &run.train;
    assert_eq!((train.rows, train.cols, train.channels), (32, 32, 3));
    assert_eq!(&train.labels[..5], &[0, 1, 2, 3, 0]);
    // Image 1: pixel 0 is (200, 2, 3), pixel 1 is (1, 2, 3).
    assert_eq!(&train.image(1)[..6], &[200, 2, 3, 1, 2, 3]);
    // A truncated batch is refused with its name.
    fs::write(dir.join("data_batch_3.bin"), &cifar_batch(2)[..3000]).unwrap();
    let error = data::resolve(dir.to_str(), None, None).unwrap_err();
    assert!(error.to_string().contains("data_batch_3.bin"), "{error}");
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn picture_flags_are_refused_where_they_cannot_apply() {
    let pictures = |size, channels| data::Pictures { size, channels };
    let refused = |spec: Option<&str>, test_spec: Option<&str>, asked| {
        let train = data::resolve_sized(spec, test_spec, None, asked).unwrap_err();
        let test = data::resolve_test(spec, test_spec, asked).unwrap_err();
        assert_eq!(train.to_string(), test.to_string());
        train.to_string()
    };
    // Values no data can be read with, even the bundled digits.
    for (asked, message) in [
        (
            pictures(None, Some(2)),
            "--channels 2: pictures are read with 1 channel (grey) or 3 (RGB)",
        ),
        (pictures(Some(0), None), "--image-size must be at least 1"),
    ] {
        assert_eq!(refused(None, None, asked), message);
    }
    let message = refused(None, None, pictures(Some(100_000), Some(3)));
    assert!(
        message.contains("30,000,000,000 bytes") && message.contains("4,096"),
        "{message}"
    );
    // Values that disagree with data of a fixed format: said, not ignored.
    assert_eq!(
        refused(None, None, pictures(Some(32), Some(3))),
        "bundled MNIST-10k holds 28×28 grey images, but --image-size 32 and --channels 3 were \
         asked: --image-size and --channels apply to picture folders only"
    );
    let cifar = scratch("cifar-flags");
    cifar_folder(&cifar, 2);
    let message = refused(cifar.to_str(), None, pictures(Some(28), None));
    assert!(
        message.contains("holds 32×32 RGB images, but --image-size 28 was asked"),
        "{message}"
    );
    // Colour to train on (agreeing), grey digits to evaluate on (not).
    if let Some(t10k) = common::shared_t10k("picture_flags_are_refused_where_they_cannot_apply") {
        let message = refused(cifar.to_str(), t10k.to_str(), pictures(None, Some(3)));
        assert!(
            message.contains("mnist-t10k")
                && message.contains("28×28 grey images, but --channels 3"),
            "{message}"
        );
    }
    // Values that agree with the data are what it is anyway.
    let run = data::resolve_sized(None, None, Some(10), pictures(Some(28), Some(1))).unwrap();
    assert_eq!((run.train.rows, run.train.channels), (28, 1));
    let run = data::resolve_sized(cifar.to_str(), None, None, pictures(Some(32), Some(3)));
    assert_eq!(run.unwrap().train.channels, 3);
    fs::remove_dir_all(&cifar).unwrap();
}

#[test]
fn cifar10_fetch_downloads_verifies_and_unpacks_the_archive() {
    // The archive as CIFAR's page serves it: the batches in `cifar-10-batches-bin/`, beside a
    // file that is not unpacked.
    let mut batches: Vec<(String, Vec<u8>)> = (1..=5)
        .map(|i| (format!("data_batch_{i}.bin"), cifar_batch(3)))
        .collect();
    batches.push(("test_batch.bin".to_string(), cifar_batch(2)));
    let mut tar = tar::Builder::new(Vec::new());
    let mut add = |name: &str, bytes: &[u8]| {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, format!("cifar-10-batches-bin/{name}"), bytes)
            .unwrap();
    };
    for (name, bytes) in &batches {
        add(name, bytes);
    }
    add("readme.html", b"<p>hello</p>");
    let tar = tar.into_inner().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar).unwrap();
    let archive = gz.finish().unwrap();
    let sums: Vec<(String, String)> = batches
        .iter()
        .map(|(name, bytes)| (name.clone(), md5_hex(bytes)))
        .collect();
    let members: Vec<(&str, &str)> = sums.iter().map(|(n, m)| (n.as_str(), m.as_str())).collect();

    let server = Server::start(&[("cifar-10-binary.tar.gz", &archive)]);
    let dir = std::env::temp_dir().join(format!("gengpu-data-cifar-fetch-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    let md5 = md5_hex(&archive);
    let fetch = |dir: &Path, archive_md5: &str, members: &[(&str, &str)]| {
        data::fetch_archive(
            &server.url,
            dir,
            ("cifar-10-binary.tar.gz", archive_md5),
            members,
            |_| {},
        )
    };
    let report = fetch(&dir, &md5, &members).unwrap();
    assert_eq!(report.downloaded, ["cifar-10-binary.tar.gz"]);
    let mut expected = vec![
        "cifar-10-binary.tar.gz".to_string(),
        "test_batch.bin".to_string(),
    ];
    expected.extend((1..=5).map(|i| format!("data_batch_{i}.bin")));
    expected.sort();
    assert_eq!(
        listing(&dir),
        expected,
        "the batches, and nothing else, unpacked"
    );
    let run = data::resolve(dir.to_str(), None, None).unwrap();
    assert_eq!((run.train.count, run.test.count), (15, 2));

    // Batches already there and right are taken as they are, without the archive.
    fs::remove_file(dir.join("cifar-10-binary.tar.gz")).unwrap();
    let again = fetch(&dir, &md5, &members).unwrap();
    assert!(again.downloaded.is_empty(), "{again:?}");
    assert_eq!(again.verified.len(), 6);
    assert!(!dir.join("cifar-10-binary.tar.gz").exists());

    // A damaged batch is fetched again from the archive and replaced.
    fs::write(dir.join("data_batch_2.bin"), b"damaged").unwrap();
    let repaired = fetch(&dir, &md5, &members).unwrap();
    assert_eq!(repaired.downloaded, ["cifar-10-binary.tar.gz"]);
    assert_eq!(
        fs::read(dir.join("data_batch_2.bin")).unwrap(),
        batches[1].1
    );

    // A wrong archive checksum is refused and leaves no archive behind.
    let other = dir.with_extension("bad");
    let error = fetch(&other, &"0".repeat(32), &members).unwrap_err();
    assert!(matches!(error, DataError::Checksum { .. }), "{error}");
    assert!(listing(&other).is_empty());

    // So is a batch whose checksum is wrong, named, with no file left for it.
    let mut wrong = members.clone();
    wrong[4].1 = "00000000000000000000000000000000";
    let error = fetch(&other, &md5, &wrong).unwrap_err();
    assert!(
        matches!(error, DataError::Checksum { .. })
            && error.to_string().contains("data_batch_5.bin"),
        "{error}"
    );
    assert!(!other.join("data_batch_5.bin").exists());
    assert!(!other.join("data_batch_5.bin.part").exists());
    fs::remove_dir_all(&dir).unwrap();
    fs::remove_dir_all(&other).unwrap();
}
