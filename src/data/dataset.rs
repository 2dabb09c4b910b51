//! Datasets in memory (u8 pixels, one row per example, as the GPU keeps them), where they come
//! from (the bundled digits, an IDX folder, a fetched dataset), and how training and
//! evaluation sets are chosen for a run.

use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};

use super::idx::{self, Images};
use super::{DataError, cifar, fetch, folder};

/// The side picture folders are read at unless told otherwise: MNIST's, which every model and
/// the scoring classifier take.
pub const DEFAULT_IMAGE_SIZE: usize = 28;

/// How picture folders are read, as the command line asked: their side and channels (1 grey,
/// 3 RGB), `None` where it did not say. Data of a fixed format (IDX, CIFAR-10, the bundled
/// digits) is read as it is, and refuses values that disagree with it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pictures {
    pub size: Option<usize>,
    pub channels: Option<usize>,
}

impl Pictures {
    /// The side a picture folder is read at: MNIST's unless asked.
    pub fn size(&self) -> usize {
        self.size.unwrap_or(DEFAULT_IMAGE_SIZE)
    }

    /// The channels a picture folder is read with: grey unless asked.
    pub fn channels(&self) -> usize {
        self.channels.unwrap_or(1)
    }

    /// Refuses values no data can be read with, whatever the data.
    fn check(&self) -> Result<(), DataError> {
        folder::check_settings(self.size(), self.channels())
    }

    /// `data` (of a fixed format) if what was asked agrees with it: the flags read picture
    /// folders only, and silently ignoring them would train on something else than asked.
    fn fixed(&self, data: Dataset) -> Result<Dataset, DataError> {
        let mut asked = Vec::new();
        if let Some(size) = self.size.filter(|&s| (s, s) != (data.rows, data.cols)) {
            asked.push(format!("--image-size {size}"));
        }
        if let Some(channels) = self.channels.filter(|&c| c != data.channels) {
            asked.push(format!("--channels {channels}"));
        }
        if asked.is_empty() {
            return Ok(data);
        }
        Err(DataError::FixedFormat {
            name: data.name,
            rows: data.rows,
            cols: data.cols,
            channels: data.channels,
            asked: asked.join(" and "),
        })
    }
}

/// What messages call pictures of `channels`.
pub(super) fn colour(channels: usize) -> &'static str {
    if channels == 1 { "grey" } else { "RGB" }
}

/// How many of the bundled 10,000 digits are held out for evaluation.
pub const BUNDLED_HOLDOUT: usize = 1000;

const BUNDLED_NAME: &str = "bundled MNIST-10k";
static BUNDLED_IMAGES: &[u8] = include_bytes!("../../assets/train-images-idx3-ubyte.gz");
static BUNDLED_LABELS: &[u8] = include_bytes!("../../assets/train-labels-idx1-ubyte.gz");

/// Which half of an MNIST-style folder: `train-*` or `t10k-*` files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    Train,
    Test,
}

impl Split {
    /// The file-name prefix MNIST, Fashion-MNIST and their look-alikes use.
    fn prefix(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Test => "t10k",
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Split::Train => "training",
            Split::Test => "test",
        }
    }
}

/// Images, all of one size, kept as the u8 bytes of the files, and their labels if the data
/// has them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dataset {
    /// `count * rows * cols` pixels, row-major, one example after the other.
    pub images: Vec<u8>,
    /// One label per example, or none at all: labels are optional (the generative models
    /// never use them), and a folder without label files loads with this empty.
    pub labels: Vec<u8>,
    pub count: usize,
    pub rows: usize,
    pub cols: usize,
    /// Values per pixel: 1 (grey) or 3 (RGB, interleaved per pixel, row-major: channels last).
    pub channels: usize,
    /// Where the data came from, for logs and messages.
    pub name: String,
}

impl Dataset {
    /// The 10,000 MNIST training digits compiled into the program: training works with no
    /// download and no files.
    pub fn bundled() -> Dataset {
        Dataset::from_idx_bytes(BUNDLED_IMAGES, BUNDLED_LABELS, BUNDLED_NAME)
            .expect("the bundled dataset is valid (checked by the tests)")
    }

    /// The bundled digits split for a run: the first 9,000 to train on, the last
    /// [`BUNDLED_HOLDOUT`] to evaluate on.
    pub fn bundled_split() -> (Dataset, Dataset) {
        hold_out(Dataset::bundled(), BUNDLED_NAME, BUNDLED_HOLDOUT)
    }

    /// Reads one split of an MNIST-style folder: `train-images-idx3-ubyte.gz` and, if present,
    /// `train-labels-idx1-ubyte.gz` (or the `t10k-` pair; gzip-compressed or not; also with
    /// `.idx3-ubyte` for `-idx3-ubyte`, as some copies name them). Without a label file the
    /// dataset has no labels; with one, it must hold as many labels as there are images.
    pub fn from_dir(dir: impl AsRef<Path>, split: Split) -> Result<Dataset, DataError> {
        let dir = dir.as_ref();
        if !dir.is_dir() {
            return Err(DataError::io(
                dir,
                io::Error::new(io::ErrorKind::NotFound, "no such folder"),
            ));
        }
        let images_path =
            find_file(dir, split, IMAGES).ok_or_else(|| missing_images(dir, &[split]))?;
        let images = idx::read_images(&images_path)?;
        let labels = match find_file(dir, split, LABELS) {
            Some(path) => Some((idx::read_labels(&path)?, path.display().to_string())),
            None => None,
        };
        pair(
            images,
            &images_path.display().to_string(),
            labels,
            format!("{} ({})", dir.display(), split.prefix()),
        )
    }

    /// Whether `dir` holds the images of `split` (its labels are optional).
    pub fn has_split(dir: impl AsRef<Path>, split: Split) -> bool {
        find_file(dir.as_ref(), split, IMAGES).is_some()
    }

    /// Bytes per example: `rows · cols · channels`.
    pub fn pixels_per_example(&self) -> usize {
        self.rows * self.cols * self.channels
    }

    /// The pixels of example `i`. Panics if `i >= count`, like slice indexing.
    pub fn image(&self, i: usize) -> &[u8] {
        let n = self.pixels_per_example();
        &self.images[i * n..(i + 1) * n]
    }

    /// The first `n` examples (all of them if there are fewer), e.g. for `--limit`.
    pub fn take(mut self, n: usize) -> Dataset {
        let n = n.min(self.count);
        self.images.truncate(n * self.pixels_per_example());
        self.labels.truncate(n);
        self.count = n;
        self
    }

    /// A copy of examples `range`. Panics if the range is out of bounds, like slice indexing.
    pub fn slice(&self, range: Range<usize>) -> Dataset {
        let n = self.pixels_per_example();
        let labels = if self.labels.is_empty() {
            assert!(range.end <= self.count, "examples {range:?} out of bounds");
            Vec::new()
        } else {
            self.labels[range.clone()].to_vec()
        };
        Dataset {
            images: self.images[range.start * n..range.end * n].to_vec(),
            labels,
            count: range.len(),
            rows: self.rows,
            cols: self.cols,
            channels: self.channels,
            name: self.name.clone(),
        }
    }

    fn from_idx_bytes(images: &[u8], labels: &[u8], name: &str) -> Result<Dataset, DataError> {
        let images_name = format!("{name} images");
        let labels_name = format!("{name} labels");
        pair(
            idx::parse_images(images, &images_name)?,
            &images_name,
            Some((idx::parse_labels(labels, &labels_name)?, labels_name)),
            name.to_string(),
        )
    }
}

/// Joins images and their labels (with what errors call the label file), which must be as
/// many, if there are labels.
fn pair(
    images: Images,
    images_name: &str,
    labels: Option<(Vec<u8>, String)>,
    name: String,
) -> Result<Dataset, DataError> {
    let labels = match labels {
        Some((labels, _)) if labels.len() == images.count => labels,
        Some((labels, labels_name)) => {
            return Err(DataError::CountMismatch {
                images: images_name.to_string(),
                image_count: images.count,
                labels: labels_name,
                label_count: labels.len(),
            });
        }
        None => Vec::new(),
    };
    Ok(Dataset {
        images: images.pixels,
        labels,
        count: images.count,
        rows: images.rows,
        cols: images.cols,
        channels: 1,
        name,
    })
}

/// A kind of file of a split: its word in the file names, and its number of dimensions.
type Kind = (&'static str, u8);
const IMAGES: Kind = ("images", 3);
const LABELS: Kind = ("labels", 1);

/// The names the file of `kind` for `split` is distributed under, in the order looked for.
fn file_names(split: Split, (kind, dims): Kind) -> Vec<String> {
    let prefix = split.prefix();
    [
        format!("{prefix}-{kind}-idx{dims}-ubyte"),
        format!("{prefix}-{kind}.idx{dims}-ubyte"),
    ]
    .iter()
    .flat_map(|base| [format!("{base}.gz"), base.clone()])
    .collect()
}

/// The file of `kind` for `split` in `dir`, under any of the names it is distributed as.
fn find_file(dir: &Path, split: Split, kind: Kind) -> Option<PathBuf> {
    file_names(split, kind)
        .iter()
        .map(|name| dir.join(name))
        .find(|path| path.is_file())
}

/// The error for a folder holding the images of none of `splits`: it lists every image file
/// name looked for.
fn missing_images(dir: &Path, splits: &[Split]) -> DataError {
    let nouns: Vec<&str> = splits.iter().map(|split| split.noun()).collect();
    DataError::MissingFiles {
        dir: dir.to_path_buf(),
        what: format!("{} images", nouns.join(" or ")),
        looked_for: splits
            .iter()
            .flat_map(|&split| file_names(split, IMAGES))
            .collect(),
    }
}

/// `err`, saying that pictures were looked for too if it is about missing files: a folder is
/// read as IDX files when it holds no pictures.
fn nor_pictures(err: DataError) -> DataError {
    match err {
        DataError::MissingFiles {
            dir,
            what,
            mut looked_for,
        } => {
            looked_for.push(folder::PICTURES.to_string());
            DataError::MissingFiles {
                dir,
                what,
                looked_for,
            }
        }
        other => other,
    }
}

/// The training and evaluation sets of a run, and a sentence saying what they are.
#[derive(Debug, Clone)]
pub struct TrainTest {
    pub train: Dataset,
    pub test: Dataset,
    pub description: String,
}

/// Chooses the data of a run from the command line's choices.
///
/// `spec`: none for the bundled digits, `mnist` or `fashion-mnist` for a fetched dataset
/// (see [`fetch::fetch`]), or an MNIST-style folder. Evaluation data: the `test_spec` folder
/// (or dataset name) if given, else the folder's `t10k` split if it has one, else the last
/// 1,000 examples of the training data (10% if it has fewer than 10,000), held out.
/// `limit` keeps only the first examples of the training set; the evaluation set is never
/// cut, so that runs with different limits are compared on the same examples.
pub fn resolve(
    spec: Option<&str>,
    test_spec: Option<&str>,
    limit: Option<usize>,
) -> Result<TrainTest, DataError> {
    resolve_sized(spec, test_spec, limit, Pictures::default())
}

/// [`resolve`], with picture folders (see [`folder`]) read as `pictures` says.
pub fn resolve_sized(
    spec: Option<&str>,
    test_spec: Option<&str>,
    limit: Option<usize>,
    pictures: Pictures,
) -> Result<TrainTest, DataError> {
    if limit == Some(0) {
        return Err(DataError::ZeroLimit);
    }
    let source = Source::locate(spec, pictures)?;
    let (full, notes) = source.read_train()?;
    let (train, test, test_part) = match TestSource::choose(&source, test_spec)? {
        TestSource::Separate(separate) => {
            let (test, part) = separate.read()?;
            (full, test, part)
        }
        TestSource::HoldOut => hold_out_for_evaluation(full, &source.origin)?,
    };

    for set in [&train, &test] {
        require_examples(set)?;
    }
    if (test.rows, test.cols) != (train.rows, train.cols) {
        return Err(DataError::ShapeMismatch {
            test: test.name,
            train_rows: train.rows,
            train_cols: train.cols,
            test_rows: test.rows,
            test_cols: test.cols,
        });
    }
    if test.channels != train.channels {
        return Err(DataError::ChannelMismatch {
            test: test.name,
            train: train.channels,
            found: test.channels,
        });
    }

    let available = train.count;
    let train = train.take(limit.unwrap_or(available));
    let train_part = if train.count < available {
        format!(
            "the first {} of {} for training",
            thousands(train.count),
            thousands(available)
        )
    } else {
        format!("{} for training", thousands(train.count))
    };
    let separator = if test_spec.is_some() { "; " } else { ", " };
    Ok(TrainTest {
        train,
        test,
        description: format!(
            "{}{notes}: {train_part}{separator}{test_part}",
            source.origin
        ),
    })
}

/// The evaluation set [`resolve`] would choose for the same `spec` and `test_spec`, and a
/// sentence saying what it is: for the commands that only evaluate (there is no `limit`, as it
/// never cuts the evaluation set). The training files are read only when the evaluation set
/// is held out of them (no `test_spec`, and no `t10k` split beside them; for the bundled
/// digits, their last [`BUNDLED_HOLDOUT`]). Image sizes are not compared with the training
/// data's: the caller compares them with its model's.
pub fn resolve_test(
    spec: Option<&str>,
    test_spec: Option<&str>,
    pictures: Pictures,
) -> Result<(Dataset, String), DataError> {
    let source = Source::locate(spec, pictures)?;
    let (test, description) = match TestSource::choose(&source, test_spec)? {
        TestSource::Separate(separate) => separate.read_alone()?,
        TestSource::HoldOut => {
            if let Some(dir) = source
                .dir
                .as_deref()
                .filter(|dir| !Part::has_split(dir, Split::Train) && !folder::has_pictures(dir))
            {
                // Neither split: say both were looked for.
                return Err(nor_pictures(missing_images(
                    dir,
                    &[Split::Test, Split::Train],
                )));
            }
            let (full, notes) = source.read_train()?;
            let (_, test, part) = hold_out_for_evaluation(full, &source.origin)?;
            (test, format!("{}{notes}: {part}", source.origin))
        }
    };
    require_examples(&test)?;
    Ok((test, description))
}

/// Where the training data of a run is: the bundled digits, or a folder.
struct Source {
    /// `None` for the bundled digits.
    dir: Option<PathBuf>,
    /// What messages call it: the spec, or the bundled data's name (and, once a picture folder
    /// is read, what was noted reading it).
    origin: String,
    /// How picture folders are read.
    pictures: Pictures,
}

impl Source {
    /// Finds the data `spec` names, without reading it.
    fn locate(spec: Option<&str>, pictures: Pictures) -> Result<Source, DataError> {
        pictures.check()?;
        Ok(match spec {
            None => Source {
                dir: None,
                origin: BUNDLED_NAME.to_string(),
                pictures,
            },
            Some(spec) => {
                let (dir, origin) = locate(spec)?;
                Source {
                    dir: Some(dir),
                    origin,
                    pictures,
                }
            }
        })
    }

    /// All the training examples, before any hold-out: an IDX folder's `train` split, or
    /// the pictures of a folder without one.
    fn read_train(&self) -> Result<(Dataset, String), DataError> {
        match &self.dir {
            None => Ok((self.pictures.fixed(Dataset::bundled())?, String::new())),
            Some(dir) => {
                let (mut full, notes) = read_part(dir, Part::of(dir, Split::Train), self.pictures)?;
                full.name = format!("{} (train)", self.origin);
                Ok((full, notes))
            }
        }
    }
}

/// What of a folder holds a set: one split of IDX files or of CIFAR-10 batches, or its
/// pictures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Part {
    Idx(Split),
    Cifar(Split),
    Pictures,
}

impl Part {
    /// `split` of `dir` if it has those IDX files or CIFAR-10 batches; else its pictures if it
    /// has any; else `split` (whose reading then says what is missing).
    fn of(dir: &Path, split: Split) -> Part {
        if cifar::has_split(dir, split) {
            Part::Cifar(split)
        } else if Dataset::has_split(dir, split) || !folder::has_pictures(dir) {
            Part::Idx(split)
        } else {
            Part::Pictures
        }
    }

    /// Whether `dir` holds `split` in either file format.
    fn has_split(dir: &Path, split: Split) -> bool {
        Dataset::has_split(dir, split) || cifar::has_split(dir, split)
    }

    fn name(self) -> &'static str {
        match self {
            Part::Idx(split) | Part::Cifar(split) => split.prefix(),
            Part::Pictures => "pictures",
        }
    }
}

/// Reads `part` of `dir`, with what a run's description should add: a picture folder's notes
/// (classes, skipped files, cache), in parentheses, or nothing.
fn read_part(dir: &Path, part: Part, pictures: Pictures) -> Result<(Dataset, String), DataError> {
    match part {
        Part::Idx(split) => {
            let read = Dataset::from_dir(dir, split).map_err(nor_pictures)?;
            Ok((pictures.fixed(read)?, String::new()))
        }
        Part::Cifar(split) => Ok((
            pictures.fixed(cifar::read(dir, split)?)?,
            " (CIFAR-10, 32×32 RGB)".into(),
        )),
        Part::Pictures => {
            let (size, channels) = (pictures.size(), pictures.channels());
            let read = folder::read_folder(dir, size, channels)?;
            let notes = read.notes();
            let side = format!("{size}×{size} {} pictures", colour(channels));
            let notes = if notes.is_empty() {
                format!(" ({side})")
            } else {
                format!(" ({side}; {notes})")
            };
            Ok((read.dataset, notes))
        }
    }
}

/// Where the evaluation set of a run comes from: the one decision [`resolve`] and
/// [`resolve_test`] share.
enum TestSource {
    /// Files of their own.
    Separate(SeparateTest),
    /// The last examples of the training data.
    HoldOut,
}

impl TestSource {
    /// The `test_spec` folder (or dataset name) if given, else the training folder's `t10k`
    /// split if it has one, else a hold-out. Reads no data.
    fn choose(train: &Source, test_spec: Option<&str>) -> Result<TestSource, DataError> {
        if let Some(test_spec) = test_spec {
            let (dir, origin) = locate(test_spec)?;
            // A folder of only `train-*` files is also accepted as evaluation data, and so is
            // a folder of pictures.
            let part = if Part::has_split(&dir, Split::Test) {
                Part::of(&dir, Split::Test)
            } else {
                Part::of(&dir, Split::Train)
            };
            return Ok(TestSource::Separate(SeparateTest {
                dir,
                origin,
                part,
                given: true,
                pictures: train.pictures,
            }));
        }
        Ok(match &train.dir {
            Some(dir) if Part::has_split(dir, Split::Test) => TestSource::Separate(SeparateTest {
                dir: dir.clone(),
                origin: train.origin.clone(),
                part: Part::of(dir, Split::Test),
                given: false,
                pictures: train.pictures,
            }),
            _ => TestSource::HoldOut,
        })
    }
}

/// An evaluation set in files of its own.
struct SeparateTest {
    dir: PathBuf,
    /// What messages call the folder.
    origin: String,
    part: Part,
    /// Named by `test_spec`, rather than the `t10k` split of the training folder.
    given: bool,
    pictures: Pictures,
}

impl SeparateTest {
    /// Reads the evaluation set, with the part of a run's description saying what it is.
    fn read(&self) -> Result<(Dataset, String), DataError> {
        let (mut test, notes) = read_part(&self.dir, self.part, self.pictures)?;
        test.name = format!("{} ({})", self.origin, self.part.name());
        let count = thousands(test.count);
        let part = if self.given {
            format!("{}{notes}: {count} for evaluation", self.origin)
        } else {
            format!("its {count} test examples for evaluation")
        };
        Ok((test, part))
    }

    /// Reads the evaluation set, with a sentence of its own saying what it is.
    fn read_alone(&self) -> Result<(Dataset, String), DataError> {
        let (test, part) = self.read()?;
        let sentence = if self.given {
            part
        } else {
            format!("{}: {part}", self.origin)
        };
        Ok((test, sentence))
    }
}

/// Holds out the last 1,000 examples of `full` (10% if it has fewer than 10,000) for
/// evaluation: the training set, the evaluation set, and the part of a run's description
/// saying what it is.
fn hold_out_for_evaluation(
    full: Dataset,
    origin: &str,
) -> Result<(Dataset, Dataset, String), DataError> {
    let count = full.count;
    if count < 2 {
        return Err(DataError::TooFewExamples {
            name: full.name,
            count,
            needed: 2,
        });
    }
    let held = if count >= 10_000 {
        1000
    } else {
        (count / 10).max(1)
    };
    let (train, test) = hold_out(full, origin, held);
    let part = format!("the last {} held out for evaluation", thousands(held));
    Ok((train, test, part))
}

fn require_examples(set: &Dataset) -> Result<(), DataError> {
    if set.count == 0 {
        return Err(DataError::TooFewExamples {
            name: set.name.clone(),
            count: 0,
            needed: 1,
        });
    }
    Ok(())
}

/// Splits off the last `held` examples for evaluation.
fn hold_out(full: Dataset, origin: &str, held: usize) -> (Dataset, Dataset) {
    let kept = full.count - held;
    let mut test = full.slice(kept..full.count);
    test.name = format!("{origin} (last {} held out)", thousands(held));
    let mut train = full.take(kept);
    train.name = format!("{origin} (first {})", thousands(kept));
    (train, test)
}

/// The folder a data spec names, and how to call it: a fetched dataset's cache folder, or
/// the spec itself as a path.
fn locate(spec: &str) -> Result<(PathBuf, String), DataError> {
    if fetch::DATASETS.contains(&spec) {
        let dir = fetch::cache_folder(spec);
        if !Part::has_split(&dir, Split::Train) {
            return Err(DataError::NotFetched {
                name: spec.to_string(),
                dir,
            });
        }
        return Ok((dir, spec.to_string()));
    }
    let dir = PathBuf::from(spec);
    if !dir.is_dir() {
        return Err(DataError::NoSuchFolder { dir });
    }
    Ok((dir, spec.to_string()))
}

/// 9000 → "9,000": counts as people read them.
pub(super) fn thousands(n: impl std::fmt::Display) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;
    use crate::data::idx::tests::idx;

    /// `count` images of 2x2 pixels, image i filled with i, labelled i % 10.
    fn tiny(count: u8) -> Dataset {
        let pixels: Vec<u8> = (0..count).flat_map(|i| [i; 4]).collect();
        let labels: Vec<u8> = (0..count).map(|i| i % 10).collect();
        Dataset::from_idx_bytes(
            &idx(0x803, &[count.into(), 2, 2], &pixels),
            &idx(0x801, &[count.into()], &labels),
            "tiny",
        )
        .unwrap()
    }

    #[test]
    fn count_mismatch_names_both_files() {
        let err = Dataset::from_idx_bytes(
            &idx(0x803, &[2, 1, 1], &[0, 0]),
            &idx(0x801, &[3], &[0, 0, 0]),
            "odd",
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "odd images holds 2 images but odd labels holds 3 labels"
        );
    }

    #[test]
    fn take_slice_and_image() {
        let data = tiny(5);
        assert_eq!(data.pixels_per_example(), 4);
        assert_eq!(data.image(3), [3, 3, 3, 3]);
        let middle = data.slice(1..3);
        assert_eq!((middle.count, middle.labels.as_slice()), (2, &[1, 2][..]));
        assert_eq!(middle.image(0), [1; 4]);
        let first = data.clone().take(2);
        assert_eq!((first.count, first.images.len()), (2, 8));
        assert_eq!(data.clone().take(99), data);
    }

    #[test]
    fn unlabelled_data_slices_and_holds_out() {
        let mut data = tiny(10);
        data.labels.clear();
        let middle = data.slice(2..5);
        assert_eq!((middle.count, middle.image(0)), (3, &[2; 4][..]));
        assert!(middle.labels.is_empty());
        let (train, test) = hold_out(data.clone(), "tiny", 1);
        assert_eq!((train.count, test.count), (9, 1));
        assert!(train.labels.is_empty() && test.labels.is_empty());
        let out_of_bounds = std::panic::catch_unwind(|| data.slice(8..11));
        assert!(out_of_bounds.is_err());
    }

    #[test]
    fn hold_out_keeps_order() {
        let (train, test) = hold_out(tiny(10), "tiny", 1);
        assert_eq!((train.count, test.count), (9, 1));
        assert_eq!(test.image(0), [9; 4]);
        assert_eq!(test.labels, [9]);
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(9000), "9,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn folder_with_dotted_raw_names_and_holdout() {
        let dir = std::env::temp_dir().join(format!("gengpu-data-unit-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let pixels: Vec<u8> = (0..20 * 4).map(|i| i as u8).collect();
        let labels: Vec<u8> = (0..20).collect();
        fs::write(
            dir.join("train-images.idx3-ubyte"),
            idx(0x803, &[20, 2, 2], &pixels),
        )
        .unwrap();
        fs::write(
            dir.join("train-labels.idx1-ubyte"),
            idx(0x801, &[20], &labels),
        )
        .unwrap();
        assert!(Dataset::has_split(&dir, Split::Train));
        assert!(!Dataset::has_split(&dir, Split::Test));

        let spec = dir.to_str().unwrap();
        let run = resolve(Some(spec), None, Some(5)).unwrap();
        assert_eq!((run.train.count, run.test.count), (5, 2));
        assert_eq!(run.test.labels, [18, 19]);
        assert_eq!(
            run.description,
            format!("{spec}: the first 5 of 18 for training, the last 2 held out for evaluation")
        );

        let err = Dataset::from_dir(&dir, Split::Test).unwrap_err();
        assert!(matches!(err, DataError::MissingFiles { .. }));
        let message = err.to_string();
        for name in [
            "t10k-images-idx3-ubyte.gz",
            "t10k-images-idx3-ubyte",
            "t10k-images.idx3-ubyte.gz",
            "t10k-images.idx3-ubyte",
        ] {
            assert!(message.contains(name), "{message}");
        }
        assert!(message.contains("no test images found"), "{message}");
        fs::remove_dir_all(&dir).unwrap();
    }
}
