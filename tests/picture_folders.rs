//! Picture folders as training data: PNG and JPEG files, grey and colour, of any size (center-
//! cropped and resized to `--image-size`), class subfolders as labels, broken files listed and
//! skipped, and the decoded data cached so that a second run reads it at once.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::cli::scratch;

/// Runs `gengpu args` with its cache in `cache`.
fn gengpu(cache: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gengpu"))
        .args(args)
        .env("GENGPU_CACHE_DIR", cache)
        .output()
        .expect("run gengpu")
}

/// [`gengpu`], which must succeed; returns its standard error.
#[track_caller]
fn succeeds(cache: &Path, args: &[&str]) -> String {
    let output = gengpu(cache, args);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "gengpu {args:?}: {stderr}");
    stderr
}

/// Whether `path`'s picture (a GIF's first frame) has a pixel whose channels differ.
fn has_colour(path: &Path) -> bool {
    let picture = image::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    picture
        .to_rgb8()
        .pixels()
        .any(|p| p.0[0] != p.0[1] || p.0[1] != p.0[2])
}

/// `classes` subfolders of `per_class` pictures each: grey PNGs of 28×28 in the first, colour
/// JPEGs of 40×30 (not square) in the others, each class a different brightness; and one file
/// that is no picture at all.
fn picture_folder(dir: &Path, classes: usize, per_class: usize) {
    for class in 0..classes {
        let sub = dir.join(format!("class_{class}"));
        std::fs::create_dir_all(&sub).unwrap();
        for i in 0..per_class {
            let level = (40 + 60 * class + i) as u8;
            if class == 0 {
                let image = image::GrayImage::from_fn(28, 28, |x, y| {
                    image::Luma([if (x + y) % 7 == 0 { 255 } else { level }])
                });
                image.save(sub.join(format!("{i:03}.png"))).unwrap();
            } else {
                let image = image::RgbImage::from_fn(40, 30, |x, _| {
                    image::Rgb([level, level / 2, if x % 5 == 0 { 255 } else { 0 }])
                });
                image.save(sub.join(format!("{i:03}.jpg"))).unwrap();
            }
        }
    }
    std::fs::write(dir.join("class_0").join("broken.png"), b"not a png").unwrap();
}

#[test]
fn both_models_train_on_a_picture_folder_on_both_backends() {
    let dir = scratch("pictures", "train");
    let (data, cache) = (dir.join("pictures"), dir.join("cache"));
    picture_folder(&data, 3, 30);
    let data_s = data.to_str().unwrap();
    let mut backends = vec!["cpu"];
    if common::gpu("both_models_train_on_a_picture_folder_on_both_backends").is_some() {
        backends.push("gpu");
    }
    for backend in backends {
        for (model, flags) in [
            ("vae", &["--hidden", "16", "--latent", "2"][..]),
            (
                "gan",
                &["--g-hidden", "16", "--d-hidden", "16", "--latent", "4"][..],
            ),
        ] {
            let out = dir.join(format!("{model}-{backend}"));
            let mut args = vec!["train", model, "--data", data_s, "--image-size", "12"];
            args.extend(["--epochs", "1", "--batch-size", "16", "--backend", backend]);
            args.extend(flags);
            args.extend(["--out", out.to_str().unwrap()]);
            let stderr = succeeds(&cache, &args);
            assert!(stderr.contains("12×12 grey pictures"), "{stderr}");
            assert!(stderr.contains("3 classes"), "{stderr}");
            assert!(
                stderr.contains("1 unreadable file skipped") && stderr.contains("broken.png"),
                "{stderr}"
            );
            // 90 pictures, 9 held out: 81 to train on.
            assert!(
                stderr.contains("81 for training, the last 9 held out"),
                "{stderr}"
            );
            let sample = image::open(out.join("sample_1.png")).expect("sample grid");
            assert_eq!(sample.width(), 8 * 14 + 2, "12-pixel images in the grid");
            if model == "gan" {
                assert!(
                    !has_colour(&out.join("progress.gif")),
                    "grey data, grey GIF"
                );
            }
        }
    }
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn decoded_pictures_are_cached_until_a_file_changes() {
    let dir = scratch("pictures", "cache");
    let (data, cache) = (dir.join("pictures"), dir.join("cache"));
    picture_folder(&data, 2, 10);
    let run = |name: &str| {
        let out = dir.join(name);
        let args = [
            "train",
            "vae",
            "--data",
            data.to_str().unwrap(),
            "--image-size",
            "8",
            "--epochs",
            "1",
            "--batch-size",
            "4",
            "--backend",
            "cpu",
            "--hidden",
            "8",
            "--out",
            out.to_str().unwrap(),
        ];
        (succeeds(&cache, &args), out)
    };
    let (first, out1) = run("first");
    assert!(!first.contains("from the cache"), "{first}");
    let (second, out2) = run("second");
    assert!(second.contains("read from the cache"), "{second}");
    // The cached data trains the same model as the decoded data did.
    let checkpoint = |out: &Path| std::fs::read(out.join("checkpoint.safetensors")).unwrap();
    let (a, b) = (checkpoint(&out1), checkpoint(&out2));
    let tensors = |bytes: &[u8]| {
        let file = safetensors::SafeTensors::deserialize(bytes).unwrap();
        let mut all: Vec<(String, Vec<u8>)> = file
            .tensors()
            .into_iter()
            .map(|(name, t)| (name, t.data().to_vec()))
            .collect();
        all.sort();
        all
    };
    assert_eq!(tensors(&a), tensors(&b));
    // A changed file is read afresh.
    image::GrayImage::from_pixel(20, 20, image::Luma([9]))
        .save(data.join("class_0").join("000.png"))
        .unwrap();
    let (third, _) = run("third");
    assert!(!third.contains("from the cache"), "{third}");
    // The new entry replaced the old one.
    let settings: Vec<_> = std::fs::read_dir(cache.join("gengpu").join("images"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(settings.len(), 1);
    assert_eq!(std::fs::read_dir(&settings[0]).unwrap().count(), 1);
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn class_subfolders_label_a_classifier_and_bad_folders_are_refused() {
    let dir = scratch("pictures", "labels");
    let (data, cache) = (dir.join("pictures"), dir.join("cache"));
    picture_folder(&data, 2, 12);
    let out = dir.join("classifier");
    let args = [
        "train",
        "classifier",
        "--data",
        data.to_str().unwrap(),
        "--image-size",
        "10",
        "--epochs",
        "1",
        "--batch-size",
        "8",
        "--hidden",
        "8",
        "--max-shift",
        "0",
        "--backend",
        "cpu",
        "--out",
        out.to_str().unwrap(),
    ];
    succeeds(&cache, &args);
    // Pictures at the top level too: no classes, so nothing for a classifier to learn.
    image::GrayImage::from_pixel(10, 10, image::Luma([1]))
        .save(data.join("loose.png"))
        .unwrap();
    let out = dir.join("unlabelled");
    let mut args = args.to_vec();
    let last = args.len() - 1;
    let out_s = out.to_str().unwrap().to_string();
    args[last] = &out_s;
    let refused = gengpu(&cache, &args);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("label"));
    // Only broken files: no examples, said plainly, with which files and why.
    let broken = dir.join("broken");
    std::fs::create_dir_all(&broken).unwrap();
    std::fs::write(broken.join("a.png"), b"nope").unwrap();
    std::fs::write(broken.join("b.png"), b"nope").unwrap();
    let output = gengpu(
        &cache,
        &[
            "train",
            "vae",
            "--data",
            broken.to_str().unwrap(),
            "--backend",
            "cpu",
        ],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.code() == Some(1)
            && stderr.contains("no picture could be read (2 unreadable files: a.png, b.png ("),
        "{stderr}"
    );
    // An empty folder: what was looked for, pictures included.
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let output = gengpu(&cache, &["train", "vae", "--data", empty.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.code() == Some(1)
            && stderr.contains("train-images-idx3-ubyte.gz")
            && stderr.contains("PNG or JPEG pictures"),
        "{stderr}"
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn impossible_picture_settings_are_refused_cleanly() {
    let dir = scratch("pictures", "impossible");
    let (data, cache) = (dir.join("pictures"), dir.join("cache"));
    picture_folder(&data, 1, 3);
    let data_s = data.to_str().unwrap();
    // Once an abort: the whole dataset was allocated up front.
    for (flags, message) in [
        (
            &["--data", data_s, "--image-size", "100000"][..],
            "10,000,000,000 bytes",
        ),
        (&["--channels", "2", "--image-size", "0"], "--image-size"),
        (&["--channels", "2"], "--channels 2"),
        (
            &["--image-size", "32"],
            "bundled MNIST-10k holds 28×28 grey images",
        ),
    ] {
        let out = dir.join("out");
        let mut args = vec!["train", "vae", "--backend", "cpu"];
        args.extend(["--out", out.to_str().unwrap()]);
        args.extend(flags);
        let output = gengpu(&cache, &args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{flags:?}: {stderr}");
        assert!(stderr.contains(message), "{flags:?}: {stderr}");
        assert!(!out.exists(), "{flags:?}: nothing written");
    }
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn colour_pictures_train_every_model_with_colour_grids_on_both_backends() {
    let dir = scratch("pictures", "colour");
    let (data, cache) = (dir.join("pictures"), dir.join("cache"));
    picture_folder(&data, 3, 12);
    let data_s = data.to_str().unwrap();
    let mut backends = vec!["cpu"];
    if common::gpu("colour_pictures_train_every_model_with_colour_grids_on_both_backends").is_some()
    {
        backends.push("gpu");
    }
    let models: [(&str, &[&str]); 4] = [
        ("vae", &["--hidden", "16", "--latent", "2"]),
        (
            "vae",
            &["--arch", "conv", "--features", "2", "--latent", "3"],
        ),
        (
            "gan",
            &["--g-hidden", "16", "--d-hidden", "16", "--latent", "4"],
        ),
        (
            "gan",
            &["--arch", "dcgan", "--g-features", "2", "--d-features", "3"],
        ),
    ];
    for backend in backends {
        for (i, (model, flags)) in models.iter().enumerate() {
            let out = dir.join(format!("{model}{i}-{backend}"));
            let mut args = vec!["train", model, "--data", data_s, "--image-size", "16"];
            args.extend(["--channels", "3", "--epochs", "1", "--batch-size", "8"]);
            args.extend(["--backend", backend]);
            args.extend(*flags);
            args.extend(["--out", out.to_str().unwrap()]);
            let stderr = succeeds(&cache, &args);
            assert!(stderr.contains("16×16 RGB pictures"), "{stderr}");
            let sample = image::open(out.join("sample_1.png")).expect("sample grid");
            assert_eq!(sample.color(), image::ColorType::Rgb8, "{model} {flags:?}");
            assert_eq!(sample.width(), 8 * 18 + 2);
            if *model == "vae" {
                let shown = image::open(out.join("reconstruction_1.png")).expect("grid");
                assert_eq!(shown.color(), image::ColorType::Rgb8);
            }
            if flags.windows(2).any(|w| w == ["--latent", "2"]) {
                // The 2-d latent's manifold.
                let manifold = image::open(out.join("manifold_1.png")).expect("manifold");
                assert_eq!(manifold.color(), image::ColorType::Rgb8);
            }
            if *model == "gan" {
                // GIF frames decode as RGBA whatever they hold: look at the colours.
                assert!(has_colour(&out.join("progress.gif")), "{flags:?}");
            }
        }
    }
    // The scoring classifier and the classifier model take grey images only: said, not crashed.
    let out = dir.join("scored");
    let output = gengpu(
        &cache,
        &[
            "train",
            "vae",
            "--data",
            data_s,
            "--image-size",
            "28",
            "--channels",
            "3",
            "--epochs",
            "1",
            "--batch-size",
            "8",
            "--hidden",
            "8",
            "--backend",
            "cpu",
            "--score-every",
            "1",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success() && stderr.contains("grey"),
        "{stderr}"
    );
    let out = dir.join("classifier");
    let output = gengpu(
        &cache,
        &[
            "train",
            "classifier",
            "--data",
            data_s,
            "--channels",
            "3",
            "--backend",
            "cpu",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success() && stderr.contains("RGB"),
        "{stderr}"
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn a_picture_folder_evaluates_a_run_and_every_skipped_file_is_listed() {
    let dir = scratch("pictures", "test-data");
    let (train, test, cache) = (dir.join("train"), dir.join("test"), dir.join("cache"));
    picture_folder(&train, 2, 10);
    for i in 0..11 {
        std::fs::write(train.join("class_1").join(format!("bad{i:02}.png")), b"").unwrap();
    }
    picture_folder(&test, 2, 4);
    let (train_s, test_s) = (train.to_str().unwrap(), test.to_str().unwrap());
    let out = dir.join("out");
    let mut args = vec!["train", "vae", "--data", train_s, "--test-data", test_s];
    args.extend(["--image-size", "12", "--channels", "3", "--epochs", "1"]);
    args.extend(["--batch-size", "4", "--hidden", "8", "--backend", "cpu"]);
    args.extend(["--out", out.to_str().unwrap()]);
    let stderr = succeeds(&cache, &args);
    // All 20 readable training pictures, the 8 of the test folder, each folder's notes.
    let test_part = format!(
        "; {test_s} (12×12 RGB pictures; 2 classes from its subfolders; 1 unreadable file \
         skipped: class_0/broken.png ("
    );
    assert!(
        stderr.contains(": 20 for training") && stderr.contains(&test_part),
        "{stderr}"
    );
    assert!(stderr.contains("): 8 for evaluation"), "{stderr}");
    // 12 unreadable training files: 10 named, 2 counted, all in the cache's list.
    let (_, listing) = stderr
        .split_once("12 unreadable files skipped: ")
        .expect("the count");
    let (named, rest) = listing
        .split_once(" and 2 more, all listed in ")
        .expect("{listing}");
    assert_eq!(named.matches(".png").count(), 10, "{named}");
    let list = &rest[..rest.find("skipped.txt").expect("the list") + "skipped.txt".len()];
    let listed = std::fs::read_to_string(list).expect("skipped.txt");
    assert_eq!(listed.lines().count(), 12, "{listed}");
    assert!(listed.lines().all(|l| l.contains(".png\t")), "{listed}");
    // The run's checkpoint is evaluated on the same folder again.
    let checkpoint = out.join("checkpoint.safetensors");
    let args = ["eval", "--checkpoint", checkpoint.to_str().unwrap()];
    let said = succeeds(&cache, &[&args[..], &["--backend", "cpu"]].concat());
    let evaluated = format!("test data: {test_s} (12×12 RGB pictures; 2 classes");
    assert!(
        said.contains(&evaluated) && said.contains("): 8 for evaluation"),
        "{said}"
    );
    std::fs::remove_dir_all(dir).ok();
}
