import NodeCore

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// A labelled set of single-channel 8-bit images, such as MNIST or
/// Fashion-MNIST, held in memory as bytes.
///
/// Batches are written on demand, in `Float` or `Double`, into a buffer the
/// caller owns (``writeBatch(indices:into:normalization:augmentation:)``),
/// with optional per-pixel normalisation and counter-based augmentation, so
/// the whole set is never converted to floating point.
public struct ImageDataset: Sendable, Equatable {
  /// Which half of a data set's standard split.
  public enum Split: Sendable, Hashable, CaseIterable {
    /// The training images (60 000 for MNIST and Fashion-MNIST).
    case train
    /// The test images (10 000 for MNIST and Fashion-MNIST).
    case test

    /// The file name prefix of the split in the MNIST distribution.
    var filePrefix: String { self == .train ? "train" : "t10k" }
  }

  /// Where Fashion-MNIST is installed by default.
  public static let fashionMNISTDirectory = "/usr/share/datasets/fashion-mnist"

  /// The pixels, `[count, height, width]` row-major, one byte per pixel.
  public let images: [UInt8]
  /// The class of each image, in `0 ..< classCount`.
  public let labels: [UInt8]
  /// The number of images.
  public let count: Int
  /// The number of pixel rows per image.
  public let height: Int
  /// The number of pixel columns per image.
  public let width: Int
  /// The number of classes; every label is less than this.
  public let classCount: Int

  /// The number of pixels per image, `height * width`.
  public var pixelsPerImage: Int { height * width }

  /// Creates a data set from bytes already in memory.
  ///
  /// - Parameters:
  ///   - images: The pixels, `[count, height, width]` row-major.
  ///   - labels: One label per image.
  ///   - height: The pixel rows per image (positive).
  ///   - width: The pixel columns per image (positive).
  ///   - classCount: The number of classes, `1 ... 256`.
  /// - Throws: ``DataError/invalidOption(name:value:allowed:)`` for a bad
  ///   size or class count, ``DataError/mismatchedFiles(_:)`` if the pixel
  ///   and label counts disagree, ``DataError/invalidFile(path:reason:)``
  ///   (with path `"<memory>"`) for a label that is not below `classCount`.
  public init(images: [UInt8], labels: [UInt8], height: Int, width: Int, classCount: Int = 10)
    throws
  {
    guard height > 0 else {
      throw DataError.invalidOption(name: "height", value: "\(height)", allowed: "> 0")
    }
    guard width > 0 else {
      throw DataError.invalidOption(name: "width", value: "\(width)", allowed: "> 0")
    }
    guard images.count % (height * width) == 0, images.count / (height * width) == labels.count
    else {
      throw DataError.mismatchedFiles(
        "\(images.count) pixels are not \(labels.count) images of \(height)×\(width)")
    }
    try self.init(
      validating: images, labels: labels, height: height, width: width, classCount: classCount,
      labelsPath: "<memory>")
  }

  /// Reads a data set from an IDX image file and an IDX label file (raw or
  /// gzip-compressed; see ``IDXFile``).
  ///
  /// - Parameters:
  ///   - images: The path of the image file (magic `0x00000803`).
  ///   - labels: The path of the label file (magic `0x00000801`).
  ///   - classCount: The number of classes, `1 ... 256`; every label must be
  ///     less than it.
  /// - Throws: ``DataError/invalidFile(path:reason:)`` for a file that cannot
  ///   be read or is malformed, or a label out of range;
  ///   ``DataError/mismatchedFiles(_:)`` if the files hold different numbers
  ///   of items (the message names both files and both counts).
  public init(images: String, labels: String, classCount: Int = 10) throws {
    let imageFile = try IDXFile(contentsOf: images, expecting: .images)
    let labelFile = try IDXFile(contentsOf: labels, expecting: .labels)
    guard imageFile.count == labelFile.count else {
      throw DataError.mismatchedFiles(
        "\(images) holds \(imageFile.count) images but \(labels) holds \(labelFile.count) labels")
    }
    let (height, width) = (imageFile.shape[1], imageFile.shape[2])
    guard height > 0, width > 0 else {
      throw DataError.invalidFile(
        path: images, reason: "images of \(height)×\(width) pixels; expected at least 1×1")
    }
    try self.init(
      validating: imageFile.elements, labels: labelFile.elements, height: height, width: width,
      classCount: classCount, labelsPath: labels)
  }

  /// Checks the class count and the labels, and stores.
  private init(
    validating images: [UInt8], labels: [UInt8], height: Int, width: Int, classCount: Int,
    labelsPath: String
  ) throws {
    guard (1...256).contains(classCount) else {
      throw DataError.invalidOption(
        name: "classCount", value: "\(classCount)", allowed: "1 ... 256")
    }
    if let bad = labels.firstIndex(where: { Int($0) >= classCount }) {
      throw DataError.invalidFile(
        path: labelsPath,
        reason: "label \(labels[bad]) at index \(bad) is outside 0..<\(classCount)")
    }
    self.images = images
    self.labels = labels
    self.count = labels.count
    self.height = height
    self.width = width
    self.classCount = classCount
  }

  /// Reads one split of Fashion-MNIST (Xiao, Rasul & Vollgraf, 2017): 28×28
  /// grey-level images of 10 kinds of clothing, 60 000 for training and
  /// 10 000 for testing.
  ///
  /// Looks in `directory` for the files of the original distribution,
  /// `train-images-idx3-ubyte.gz` and `train-labels-idx1-ubyte.gz` (or
  /// `t10k-…` for the test split), or the same names without `.gz`, or with
  /// `.idx` for `-idx` (as some mirrors name them).
  ///
  /// - Throws: ``DataError/invalidFile(path:reason:)`` naming the directory
  ///   and the files looked for if none is there, or any error of
  ///   ``init(images:labels:classCount:)``.
  public static func fashionMNIST(
    split: Split, directory: String = fashionMNISTDirectory
  ) throws -> ImageDataset {
    try mnistLayout(split: split, directory: directory, name: "Fashion-MNIST")
  }

  /// Reads one split of MNIST (LeCun et al., 1998) from a directory holding
  /// the files of the original distribution: 28×28 handwritten digits, 60 000
  /// for training and 10 000 for testing.
  ///
  /// The file names looked for are those of
  /// ``fashionMNIST(split:directory:)``.
  ///
  /// - Throws: ``DataError/invalidFile(path:reason:)`` naming the directory
  ///   and the files looked for if none is there, or any error of
  ///   ``init(images:labels:classCount:)``.
  public static func mnist(split: Split, directory: String) throws -> ImageDataset {
    try mnistLayout(split: split, directory: directory, name: "MNIST")
  }

  /// Finds and reads the image and label files of a split laid out as MNIST's.
  private static func mnistLayout(split: Split, directory: String, name: String) throws
    -> ImageDataset
  {
    func find(_ stem: String, _ rank: Int) throws -> String {
      let base = "\(split.filePrefix)-\(stem)"
      let candidates = [
        "\(base)-idx\(rank)-ubyte.gz", "\(base)-idx\(rank)-ubyte", "\(base).idx\(rank)-ubyte",
      ]
      let prefix = directory.hasSuffix("/") ? directory : directory + "/"
      for candidate in candidates where access(prefix + candidate, F_OK) == 0 {
        return prefix + candidate
      }
      throw DataError.invalidFile(
        path: directory,
        reason:
          "no \(name) \(split) \(stem) file: looked for "
          + candidates.joined(separator: ", "))
    }
    return try ImageDataset(images: find("images", 3), labels: find("labels", 1))
  }

  /// The labels of the images at `indices`, as `Int`.
  ///
  /// - Precondition: every index is in `0 ..< count`.
  public func labels(at indices: some Sequence<Int>) -> [Int] {
    indices.map { index in
      precondition(index >= 0 && index < count, "image index \(index) is outside 0..<\(count)")
      return Int(labels[index])
    }
  }

  /// Writes the images at `indices`, as floating-point pixels, into `buffer`.
  ///
  /// The batch is laid out `[B, 1, height, width]` row-major, `B` being
  /// `indices.count`: sample `b` occupies elements
  /// `b * pixelsPerImage ..< (b + 1) * pixelsPerImage`. A pixel byte `x`
  /// becomes `x / 255`, then `(x / 255 − mean) / std` if `normalization` is
  /// given (computed in `Scalar` through a 256-entry table).
  ///
  /// With `augmentation`, each image is first randomly cropped from its
  /// zero-padded copy and possibly mirrored, as described (with the random
  /// draws' addresses) in ``ImageAugmentation``; padding pixels are byte 0
  /// and go through the same scaling and normalisation as real ones.
  ///
  /// Nothing is allocated: the conversion table lives on the stack.
  ///
  /// - Parameters:
  ///   - indices: The images to write, each in `0 ..< count`, in batch order.
  ///   - buffer: At least `indices.count * pixelsPerImage` elements; only
  ///     that many are written.
  ///   - normalization: The mean and standard deviation to normalise by, or
  ///     `nil` to leave pixels in `[0, 1]`.
  ///   - augmentation: The random crop and flip, or `nil` for the images as
  ///     they are.
  public func writeBatch<Scalar: TensorScalar>(
    indices: some Collection<Int>,
    into buffer: UnsafeMutableBufferPointer<Scalar>,
    normalization: PixelNormalization? = nil,
    augmentation: ImageAugmentation? = nil
  ) {
    let pixels = pixelsPerImage
    precondition(
      buffer.count >= indices.count * pixels,
      "a batch of \(indices.count) images of \(height)×\(width) needs"
        + " \(indices.count * pixels) elements, the buffer has \(buffer.count)")
    guard let out = buffer.baseAddress else { return }
    withUnsafeTemporaryAllocation(of: Scalar.self, capacity: 256) { table in
      let mean = Scalar(normalization?.mean ?? 0)
      let std = Scalar(normalization?.std ?? 1)
      for byte in 0..<256 {
        let unit = Scalar(byte) / 255
        table.initializeElement(at: byte, to: normalization == nil ? unit : (unit - mean) / std)
      }
      let lookup = UnsafePointer(table.baseAddress!)
      for (b, index) in indices.enumerated() {
        writeImage(index, to: out + b * pixels, table: lookup, augmentation: augmentation)
      }
      table.deinitialize()
    }
  }

  /// Writes image `index`, converted through `table` and augmented, to the
  /// `pixelsPerImage` elements at `target`.
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  private func writeImage<Scalar: TensorScalar>(
    _ index: Int, to target: UnsafeMutablePointer<Scalar>, table: UnsafePointer<Scalar>,
    augmentation: ImageAugmentation?
  ) {
    precondition(index >= 0 && index < count, "image index \(index) is outside 0..<\(count)")
    images.withUnsafeBufferPointer { source in
      let image = source.baseAddress! + index * pixelsPerImage
      guard let augmentation else {
        for p in 0..<pixelsPerImage { target[p] = table[Int(image[p])] }
        return
      }
      let placement = augmentation.placement(sample: index)
      let zero = table[0]
      for r in 0..<height {
        let row = target + r * width
        let sourceRow = r + placement.rowShift
        guard sourceRow >= 0 && sourceRow < height else {
          row.update(repeating: zero, count: width)
          continue
        }
        // Output column c takes source column c' + columnShift, c' being c
        // or, mirrored, width − 1 − c; outside the image it is padding.
        let source = image + sourceRow * width
        let shift = placement.columnShift
        if placement.flip {
          for c in 0..<width {
            let sc = width - 1 - c + shift
            row[c] = sc >= 0 && sc < width ? table[Int(source[sc])] : zero
          }
        } else {
          let first = min(max(0, -shift), width)
          let end = max(min(width, width - shift), first)
          for c in 0..<first { row[c] = zero }
          for c in first..<end { row[c] = table[Int(source[c + shift])] }
          for c in end..<width { row[c] = zero }
        }
      }
    }
  }

  /// The images at `indices` as a tensor `[B, 1, height, width]`; see
  /// ``writeBatch(indices:into:normalization:augmentation:)``.
  public func batch<Scalar: TensorScalar>(
    indices: some Collection<Int>,
    as _: Scalar.Type = Scalar.self,
    normalization: PixelNormalization? = nil,
    augmentation: ImageAugmentation? = nil
  ) -> Tensor<Scalar> {
    var tensor = Tensor<Scalar>(shape: [indices.count, 1, height, width])
    tensor.withUnsafeMutableBufferPointer { buffer in
      writeBatch(
        indices: indices, into: buffer, normalization: normalization, augmentation: augmentation)
    }
    return tensor
  }
}

/// The mean and standard deviation by which pixels in `[0, 1]` are normalised,
/// `(x − mean) / std`.
public struct PixelNormalization: Sendable, Hashable {
  /// Subtracted from each pixel in `[0, 1]`.
  public var mean: Double
  /// Divides each centred pixel; positive.
  public var std: Double

  /// Creates a normalisation.
  ///
  /// - Precondition: `std > 0`.
  public init(mean: Double, std: Double) {
    precondition(std > 0, "normalisation std \(std) must be positive")
    self.mean = mean
    self.std = std
  }

  /// The pixel mean and standard deviation of the Fashion-MNIST training set
  /// (0.2860, 0.3530).
  public static let fashionMNIST = PixelNormalization(mean: 0.2860, std: 0.3530)

  /// The pixel mean and standard deviation of the MNIST training set
  /// (0.1307, 0.3081).
  public static let mnist = PixelNormalization(mean: 0.1307, std: 0.3081)
}

/// Random crop with zero padding and random horizontal flip, drawn from a
/// ``CounterRandom`` so that each sample's augmentation is a pure function of
/// `(seed, epoch, sample index)`.
///
/// The image is padded with `padding` rows and columns of zero bytes on every
/// side and an image-sized window is cut out of the padded copy at offsets
/// `(dy, dx)`, each uniform in `0 ... 2 * padding`; with `horizontalFlip`,
/// the window is then mirrored left to right with probability ½. The same
/// sample in the same epoch under the same seed is always cropped and flipped
/// the same way, whichever batch, rank or thread writes it.
///
/// Draw addresses: sample `i` uses the single Philox block at counter `i` of
/// stream ``stream(epoch:)`` — `0x4155_4730` ("AUG0") in the high 32 bits and
/// the epoch in the low 32 bits, so augmentation never shares a stream with
/// draws keyed by the bare epoch (such as data order). Of the block's four
/// 32-bit words, word 0 gives `dy` and word 1 gives `dx` (as
/// `(word * (2 * padding + 1)) >> 32`), and the top bit of word 2 the flip.
public struct ImageAugmentation: Sendable, Hashable {
  /// The zero rows and columns added on each side before cropping; 0 crops
  /// nothing.
  public var padding: Int
  /// Whether images are mirrored left to right with probability ½.
  public var horizontalFlip: Bool
  /// The key of the draws.
  public var seed: UInt64
  /// The epoch, which selects the stream (below 2³²).
  public var epoch: Int

  /// The tag in the high 32 bits of the augmentation streams.
  public static let streamTag: UInt64 = 0x4155_4730

  /// Creates an augmentation.
  ///
  /// - Precondition: `padding >= 0` and `0 <= epoch < 2³²`.
  public init(padding: Int, horizontalFlip: Bool = false, seed: UInt64, epoch: Int) {
    precondition(padding >= 0, "crop padding \(padding) must not be negative")
    precondition(
      epoch >= 0 && UInt64(epoch) <= UInt64(UInt32.max), "epoch \(epoch) is outside 0..<2^32")
    self.padding = padding
    self.horizontalFlip = horizontalFlip
    self.seed = seed
    self.epoch = epoch
  }

  /// The stream of the draws of `epoch`: ``streamTag`` above the epoch.
  public static func stream(epoch: Int) -> UInt64 {
    streamTag << 32 | UInt64(UInt32(truncatingIfNeeded: epoch))
  }

  /// Where sample `sample` is cut from its padded copy, and whether it is
  /// mirrored.
  ///
  /// - Returns: The crop offsets in the padded image, `0 ... 2 * padding`,
  ///   and the flip.
  /// - Precondition: `padding >= 0`, `0 <= epoch < 2³²` and `sample >= 0`.
  public func crop(sample: Int) -> (dy: Int, dx: Int, flip: Bool) {
    precondition(padding >= 0, "crop padding \(padding) must not be negative")
    precondition(
      epoch >= 0 && UInt64(epoch) <= UInt64(UInt32.max), "epoch \(epoch) is outside 0..<2^32")
    let bits = CounterRandom(seed: seed).block(
      stream: Self.stream(epoch: epoch), counter: UInt64(sample))
    let choices = UInt64(2 * padding + 1)
    let dy = Int((UInt64(bits[0]) * choices) >> 32)
    let dx = Int((UInt64(bits[1]) * choices) >> 32)
    return (dy, dx, horizontalFlip && bits[2] >> 31 == 1)
  }

  /// The crop as a shift of the source pixel relative to the output pixel.
  @inline(__always)
  func placement(sample: Int) -> (rowShift: Int, columnShift: Int, flip: Bool) {
    let c = crop(sample: sample)
    return (c.dy - padding, c.dx - padding, c.flip)
  }
}
