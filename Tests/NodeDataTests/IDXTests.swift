import CZlib
import Foundation
import NodeCore
import NodeData
import Testing

/// A fresh directory under the system temporary directory, removed by `cleanup`.
private struct TemporaryDirectory {
  let path: String

  init() throws {
    path =
      FileManager.default.temporaryDirectory
      .appendingPathComponent("idx-tests-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
  }

  /// Writes `bytes` to `name` in the directory and returns the file's path.
  @discardableResult
  func write(_ name: String, _ bytes: [UInt8]) throws -> String {
    let file = path + "/" + name
    try Data(bytes).write(to: URL(fileURLWithPath: file))
    return file
  }

  func cleanup() {
    try? FileManager.default.removeItem(atPath: path)
  }
}

/// `bytes` compressed as one gzip member by zlib's deflate.
private func gzip(_ bytes: [UInt8]) -> [UInt8] {
  var stream = z_stream()
  let status = deflateInit2_(
    &stream, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY, zlibVersion(),
    Int32(MemoryLayout<z_stream>.size))
  precondition(status == Z_OK)
  defer { deflateEnd(&stream) }
  var output = [UInt8](repeating: 0, count: Int(deflateBound(&stream, UInt(bytes.count))) + 64)
  var input = bytes
  let produced = input.withUnsafeMutableBufferPointer { inBuffer in
    output.withUnsafeMutableBufferPointer { outBuffer in
      stream.next_in = inBuffer.baseAddress
      stream.avail_in = UInt32(inBuffer.count)
      stream.next_out = outBuffer.baseAddress
      stream.avail_out = UInt32(outBuffer.count)
      let result = deflate(&stream, Z_FINISH)
      precondition(result == Z_STREAM_END)
      return outBuffer.count - Int(stream.avail_out)
    }
  }
  return Array(output[..<produced])
}

/// A deterministic pseudo-random image file `[count, rows, columns]`.
private func syntheticImages(count: Int, rows: Int, columns: Int) -> IDXFile {
  let elements = (0..<(count * rows * columns)).map {
    UInt8(truncatingIfNeeded: $0 &* 37 &+ $0 / 7)
  }
  return IDXFile(kind: .images, shape: [count, rows, columns], elements: elements)
}

/// Expects `body` to throw exactly `expected`.
private func expectError(
  _ expected: DataError, sourceLocation: SourceLocation = #_sourceLocation,
  _ body: () throws -> Void
) {
  do {
    try body()
    Issue.record("expected \(expected), nothing thrown", sourceLocation: sourceLocation)
  } catch let error as DataError {
    #expect(error == expected, sourceLocation: sourceLocation)
  } catch {
    Issue.record("expected \(expected), got \(error)", sourceLocation: sourceLocation)
  }
}

@Suite struct IDXFileTests {
  @Test func rawImagesAndLabelsRoundTrip() throws {
    let dir = try TemporaryDirectory()
    defer { dir.cleanup() }
    let images = syntheticImages(count: 5, rows: 3, columns: 4)
    let labels = IDXFile(kind: .labels, shape: [5], elements: [0, 1, 2, 9, 4])
    let imagePath = try dir.write("images", images.encoded())
    let labelPath = try dir.write("labels", labels.encoded())

    #expect(Array(images.encoded().prefix(8)) == [0, 0, 8, 3, 0, 0, 0, 5])
    let readImages = try IDXFile(contentsOf: imagePath, expecting: .images)
    #expect(readImages == images)
    #expect(readImages.shape == [5, 3, 4])
    #expect(readImages.count == 5)
    let readLabels = try IDXFile(contentsOf: labelPath)
    #expect(readLabels == labels)
    #expect(readLabels.kind == .labels)
  }

  @Test func gzippedFilesReadAsRaw() throws {
    let dir = try TemporaryDirectory()
    defer { dir.cleanup() }
    // Larger than the reader's 256 KiB input chunk even compressed: use bytes
    // that do not compress well.
    var state: UInt64 = 1
    let big = (0..<(40 * 100 * 100)).map { _ -> UInt8 in
      state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      return UInt8(truncatingIfNeeded: state >> 56)
    }
    let images = IDXFile(kind: .images, shape: [40, 100, 100], elements: big)
    let compressed = gzip(images.encoded())
    #expect(compressed.count > 300_000)
    #expect(compressed.prefix(2) == [0x1F, 0x8B])
    let path = try dir.write("images.gz", compressed)
    #expect(try IDXFile(contentsOf: path, expecting: .images) == images)

    // Compression is recognised by content, not by name.
    let small = syntheticImages(count: 2, rows: 2, columns: 2)
    let oddName = try dir.write("images.raw", gzip(small.encoded()))
    #expect(try IDXFile(contentsOf: oddName) == small)
  }

  @Test func concatenatedGzipMembersReadAsOneFile() throws {
    let dir = try TemporaryDirectory()
    defer { dir.cleanup() }
    let images = syntheticImages(count: 3, rows: 5, columns: 5)
    let encoded = images.encoded()
    let path = try dir.write(
      "split.gz", gzip(Array(encoded[..<30])) + gzip(Array(encoded[30...])))
    #expect(try IDXFile(contentsOf: path) == images)
  }

  @Test func missingAndUnreadableFiles() throws {
    let dir = try TemporaryDirectory()
    defer { dir.cleanup() }
    expectError(
      .invalidFile(path: dir.path + "/nope", reason: "cannot open: No such file or directory")
    ) { _ = try IDXFile(contentsOf: dir.path + "/nope") }
    expectError(.invalidFile(path: dir.path, reason: "cannot read: Is a directory")) {
      _ = try IDXFile(contentsOf: dir.path)
    }
    let empty = try dir.write("empty", [])
    expectError(
      .invalidFile(
        path: empty,
        reason: "truncated: expected at least 4 bytes for the IDX magic number, found 0")
    ) { _ = try IDXFile(contentsOf: empty) }
  }

  @Test func badGzipData() throws {
    let dir = try TemporaryDirectory()
    defer { dir.cleanup() }
    let compressed = gzip(syntheticImages(count: 4, rows: 10, columns: 10).encoded())

    // A corrupted deflate block.
    var corrupt = compressed
    for i in 12..<20 { corrupt[i] ^= 0xFF }
    let corruptPath = try dir.write("corrupt.gz", corrupt)
    do {
      _ = try IDXFile(contentsOf: corruptPath)
      Issue.record("corrupt gzip data was read")
    } catch let DataError.invalidFile(path, reason) {
      #expect(path == corruptPath)
      #expect(reason.hasPrefix("bad gzip data: "), "\(reason)")
    }

    // A wrong CRC in the trailer.
    var badCRC = compressed
    badCRC[badCRC.count - 8] ^= 0x01
    let badCRCPath = try dir.write("crc.gz", badCRC)
    expectError(
      .invalidFile(
        path: badCRCPath,
        reason:
          "bad gzip data: incorrect data check (zlib error -3, near compressed offset"
          + " \(compressed.count - 4))")
    ) { _ = try IDXFile(contentsOf: badCRCPath) }

    // The compressed file cut short.
    let cut = try dir.write("cut.gz", Array(compressed.dropLast(20)))
    expectError(
      .invalidFile(
        path: cut,
        reason:
          "bad gzip data: the compressed stream is cut short after \(compressed.count - 20)"
          + " bytes (no end-of-stream marker and checksum)")
    ) { _ = try IDXFile(contentsOf: cut) }

    // Something that is not gzip after the end of the stream.
    let tail = try dir.write("tail.gz", compressed + [0x50, 0x4B, 0x03])
    expectError(
      .invalidFile(
        path: tail,
        reason:
          "bad gzip data: 3+ bytes that are not gzip data follow the end of the compressed"
          + " stream (at compressed offset \(compressed.count))")
    ) { _ = try IDXFile(contentsOf: tail) }
  }

  @Test func wrongMagicNumbers() throws {
    let dir = try TemporaryDirectory()
    defer { dir.cleanup() }
    let labels = try dir.write(
      "labels", IDXFile(kind: .labels, shape: [3], elements: [1, 2, 3]).encoded())
    expectError(
      .invalidFile(
        path: labels,
        reason:
          "wrong IDX magic number 0x00000801 (uint8 labels [count]), expected 0x00000803"
          + " (uint8 images [count, rows, columns])")
    ) { _ = try IDXFile(contentsOf: labels, expecting: .images) }

    let images = try dir.write("images", syntheticImages(count: 1, rows: 1, columns: 1).encoded())
    expectError(
      .invalidFile(
        path: images,
        reason:
          "wrong IDX magic number 0x00000803 (uint8 images [count, rows, columns]), expected"
          + " 0x00000801 (uint8 labels [count])")
    ) { _ = try IDXFile(contentsOf: images, expecting: .labels) }

    let png = try dir.write("picture.png", [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
    expectError(
      .invalidFile(
        path: png,
        reason:
          "not an IDX file: magic number 0x89504E47, expected 0x00000803 (uint8 images [count,"
          + " rows, columns]) or 0x00000801 (uint8 labels [count])")
    ) { _ = try IDXFile(contentsOf: png) }

    let rank2 = try dir.write("rank2", [0, 0, 8, 2, 0, 0, 0, 1, 0, 0, 0, 1, 7])
    expectError(
      .invalidFile(
        path: rank2,
        reason:
          "wrong IDX magic number 0x00000802 (uint8, rank 2), expected 0x00000803 (uint8 images"
          + " [count, rows, columns]) or 0x00000801 (uint8 labels [count])")
    ) { _ = try IDXFile(contentsOf: rank2) }
  }

  @Test func wrongElementType() throws {
    let dir = try TemporaryDirectory()
    defer { dir.cleanup() }
    let floats = try dir.write("floats", [0, 0, 0x0D, 1, 0, 0, 0, 1, 0x3F, 0x80, 0, 0])
    expectError(
      .invalidFile(
        path: floats,
        reason:
          "unsupported IDX element type 0x0D (float32) in magic number 0x00000D01; expected"
          + " 0x08 (unsigned byte)")
    ) { _ = try IDXFile(contentsOf: floats, expecting: .labels) }
  }

  @Test func truncatedFiles() throws {
    let dir = try TemporaryDirectory()
    defer { dir.cleanup() }
    let encoded = syntheticImages(count: 2, rows: 3, columns: 4).encoded()
    #expect(encoded.count == 16 + 24)
    let short = try dir.write("short", Array(encoded.dropLast(5)))
    expectError(
      .invalidFile(
        path: short,
        reason: "truncated: expected 40 bytes (16-byte header + 2×3×4 bytes), found 35")
    ) { _ = try IDXFile(contentsOf: short) }

    let shortGzip = try dir.write("short.gz", gzip(Array(encoded.dropLast(5))))
    expectError(
      .invalidFile(
        path: shortGzip,
        reason:
          "truncated: expected 40 bytes (16-byte header + 2×3×4 bytes), found 35"
          + " (after gzip decompression)")
    ) { _ = try IDXFile(contentsOf: shortGzip) }

    let header = try dir.write("header", Array(encoded.prefix(10)))
    expectError(
      .invalidFile(path: header, reason: "truncated: expected a 16-byte IDX header, found 10 bytes")
    ) { _ = try IDXFile(contentsOf: header) }
  }

  @Test func trailingGarbage() throws {
    let dir = try TemporaryDirectory()
    defer { dir.cleanup() }
    let encoded = IDXFile(kind: .labels, shape: [4], elements: [1, 2, 3, 4]).encoded()
    let long = try dir.write("long", encoded + [0, 0, 0])
    expectError(
      .invalidFile(
        path: long,
        reason: "trailing garbage: 3 bytes after the expected 12 (8-byte header + 4 bytes)")
    ) { _ = try IDXFile(contentsOf: long) }

    let longGzip = try dir.write("long.gz", gzip(encoded + [UInt8](repeating: 9, count: 1000)))
    expectError(
      .invalidFile(
        path: longGzip,
        reason:
          "trailing garbage: 1000 bytes after the expected 12 (8-byte header + 4 bytes)"
          + " (after gzip decompression)")
    ) { _ = try IDXFile(contentsOf: longGzip) }
  }
}

@Suite struct ImageDatasetTests {
  /// Writes a matching image and label pair and returns their paths.
  private func writePair(
    in dir: TemporaryDirectory, images: IDXFile, labels: [UInt8], gzipped: Bool = false,
    names: (String, String) = ("images", "labels")
  ) throws -> (String, String) {
    let labelFile = IDXFile(kind: .labels, shape: [labels.count], elements: labels)
    let imageBytes = gzipped ? gzip(images.encoded()) : images.encoded()
    let labelBytes = gzipped ? gzip(labelFile.encoded()) : labelFile.encoded()
    return (try dir.write(names.0, imageBytes), try dir.write(names.1, labelBytes))
  }

  @Test func loadsAnImageAndLabelPair() throws {
    let dir = try TemporaryDirectory()
    defer { dir.cleanup() }
    let images = syntheticImages(count: 4, rows: 3, columns: 2)
    let (imagePath, labelPath) = try writePair(
      in: dir, images: images, labels: [3, 0, 9, 1], gzipped: true)
    let data = try ImageDataset(images: imagePath, labels: labelPath)
    #expect(data.count == 4)
    #expect(data.height == 3)
    #expect(data.width == 2)
    #expect(data.classCount == 10)
    #expect(data.pixelsPerImage == 6)
    #expect(data.images == images.elements)
    #expect(data.labels == [3, 0, 9, 1])
    #expect(data.labels(at: [2, 0, 2]) == [9, 3, 9])
  }

  @Test func mismatchedCountsNameBothFiles() throws {
    let dir = try TemporaryDirectory()
    defer { dir.cleanup() }
    let (imagePath, labelPath) = try writePair(
      in: dir, images: syntheticImages(count: 4, rows: 2, columns: 2), labels: [1, 2, 3])
    expectError(
      .mismatchedFiles("\(imagePath) holds 4 images but \(labelPath) holds 3 labels")
    ) { _ = try ImageDataset(images: imagePath, labels: labelPath) }
  }

  @Test func labelsMustBeBelowTheClassCount() throws {
    let dir = try TemporaryDirectory()
    defer { dir.cleanup() }
    let (imagePath, labelPath) = try writePair(
      in: dir, images: syntheticImages(count: 3, rows: 2, columns: 2), labels: [1, 10, 3])
    expectError(.invalidFile(path: labelPath, reason: "label 10 at index 1 is outside 0..<10")) {
      _ = try ImageDataset(images: imagePath, labels: labelPath)
    }
    expectError(.invalidFile(path: labelPath, reason: "label 10 at index 1 is outside 0..<3")) {
      _ = try ImageDataset(images: imagePath, labels: labelPath, classCount: 3)
    }
    #expect(try ImageDataset(images: imagePath, labels: labelPath, classCount: 11).classCount == 11)
    expectError(.invalidOption(name: "classCount", value: "0", allowed: "1 ... 256")) {
      _ = try ImageDataset(images: imagePath, labels: labelPath, classCount: 0)
    }
    // Swapped files: the label file is not an image file.
    expectError(
      .invalidFile(
        path: labelPath,
        reason:
          "wrong IDX magic number 0x00000801 (uint8 labels [count]), expected 0x00000803"
          + " (uint8 images [count, rows, columns])")
    ) { _ = try ImageDataset(images: labelPath, labels: imagePath) }
  }

  @Test func findsMNISTFilesGzippedOrNot() throws {
    let dir = try TemporaryDirectory()
    defer { dir.cleanup() }
    let train = syntheticImages(count: 3, rows: 4, columns: 4)
    let test = syntheticImages(count: 2, rows: 4, columns: 4)
    _ = try writePair(
      in: dir, images: train, labels: [1, 2, 3], gzipped: true,
      names: ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"))
    _ = try writePair(
      in: dir, images: test, labels: [7, 8], gzipped: false,
      names: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"))
    let trainSet = try ImageDataset.mnist(split: .train, directory: dir.path)
    #expect(trainSet.images == train.elements)
    #expect(trainSet.labels == [1, 2, 3])
    let testSet = try ImageDataset.fashionMNIST(split: .test, directory: dir.path + "/")
    #expect(testSet.images == test.elements)
    #expect(testSet.labels == [7, 8])

    let empty = try TemporaryDirectory()
    defer { empty.cleanup() }
    expectError(
      .invalidFile(
        path: empty.path,
        reason:
          "no MNIST train images file: looked for train-images-idx3-ubyte.gz,"
          + " train-images-idx3-ubyte, train-images.idx3-ubyte")
    ) { _ = try ImageDataset.mnist(split: .train, directory: empty.path) }
    expectError(
      .invalidFile(
        path: empty.path,
        reason:
          "no Fashion-MNIST test images file: looked for t10k-images-idx3-ubyte.gz,"
          + " t10k-images-idx3-ubyte, t10k-images.idx3-ubyte")
    ) { _ = try ImageDataset.fashionMNIST(split: .test, directory: empty.path) }
  }

  @Test func inMemoryDataSetsAreChecked() throws {
    let data = try ImageDataset(images: [0, 255, 128, 1], labels: [0, 1], height: 1, width: 2)
    #expect(data.count == 2)
    expectError(.mismatchedFiles("4 pixels are not 3 images of 1×2")) {
      _ = try ImageDataset(images: [0, 255, 128, 1], labels: [0, 1, 2], height: 1, width: 2)
    }
    expectError(.invalidOption(name: "width", value: "0", allowed: "> 0")) {
      _ = try ImageDataset(images: [], labels: [], height: 1, width: 0)
    }
    expectError(.invalidFile(path: "<memory>", reason: "label 5 at index 1 is outside 0..<2")) {
      _ = try ImageDataset(images: [0, 0], labels: [0, 5], height: 1, width: 1, classCount: 2)
    }
  }

  @Test func batchesAreScaledAndLaidOutPerSample() throws {
    let pixels: [UInt8] = [0, 51, 102, 153, 204, 255] + [1, 2, 3, 4, 5, 6]
    let data = try ImageDataset(images: pixels, labels: [4, 2], height: 2, width: 3)
    var buffer = [Float](repeating: -7, count: 3 * 6 + 2)
    buffer.withUnsafeMutableBufferPointer { data.writeBatch(indices: [1, 0, 1], into: $0) }
    let expectedBytes: [UInt8] = [1, 2, 3, 4, 5, 6, 0, 51, 102, 153, 204, 255, 1, 2, 3, 4, 5, 6]
    let expected = expectedBytes.map { Float($0) / 255 }
    #expect(Array(buffer[..<18]) == expected)
    #expect(buffer[18...] == [-7, -7], "writes past the batch")
    #expect(buffer[11] == 1 && buffer[12] == Float(1) / 255)

    let tensor = data.batch(indices: [0, 1], as: Double.self)
    #expect(tensor.shape == [2, 1, 2, 3])
    #expect(tensor[0, 0, 1, 2] == 1)
    #expect(tensor[0, 0, 0, 1] == 51.0 / 255)
    #expect(tensor[1, 0, 1, 0] == 4.0 / 255)

    let normal = PixelNormalization(mean: 0.5, std: 0.25)
    let normalised = data.batch(indices: [0], as: Float.self, normalization: normal)
    let first = pixels[..<6].map { (Float($0) / 255 - 0.5) / 0.25 }
    #expect(normalised.scalars == first)
    #expect(normalised.scalars.first == -2 && normalised.scalars.last == 2)
    #expect(data.batch(indices: [Int](), as: Float.self).shape == [0, 1, 2, 3])
  }

  /// The reference augmentation: pad with zeros, cut the window, mirror.
  private func referenceAugmented(
    _ data: ImageDataset, sample: Int, augmentation: ImageAugmentation
  ) -> [UInt8] {
    let (h, w, p) = (data.height, data.width, augmentation.padding)
    let crop = augmentation.crop(sample: sample)
    var padded = [UInt8](repeating: 0, count: (h + 2 * p) * (w + 2 * p))
    for r in 0..<h {
      for c in 0..<w {
        padded[(r + p) * (w + 2 * p) + c + p] = data.images[sample * h * w + r * w + c]
      }
    }
    var out = [UInt8](repeating: 0, count: h * w)
    for r in 0..<h {
      for c in 0..<w {
        let column = crop.flip ? w - 1 - c : c
        out[r * w + c] = padded[(r + crop.dy) * (w + 2 * p) + column + crop.dx]
      }
    }
    return out
  }

  @Test func augmentationMatchesPadCropFlip() throws {
    let (n, h, w) = (64, 5, 7)
    let file = syntheticImages(count: n, rows: h, columns: w)
    // No zero pixels in the images, so zeros in the output are padding.
    let data = try ImageDataset(
      images: file.elements.map { $0 | 1 }, labels: [UInt8](repeating: 0, count: n), height: h,
      width: w)
    for (padding, flip) in [(0, true), (2, false), (3, true), (9, true)] {
      let augmentation = ImageAugmentation(
        padding: padding, horizontalFlip: flip, seed: 42, epoch: 3)
      let batch = data.batch(indices: Array(0..<n), as: Float.self, augmentation: augmentation)
      for sample in 0..<n {
        let expected = referenceAugmented(data, sample: sample, augmentation: augmentation)
        #expect(
          Array(batch.row(sample)) == expected.map { Float($0) / 255 },
          "padding \(padding) flip \(flip) sample \(sample)")
      }
      let crops = (0..<n).map { augmentation.crop(sample: $0) }
      #expect(
        crops.allSatisfy { (0...2 * padding).contains($0.dy) && (0...2 * padding).contains($0.dx) })
      if padding > 0 {
        #expect(Set(crops.map(\.dy)).count > 1 && Set(crops.map(\.dx)).count > 1)
        #expect(batch.scalars.contains(0), "padding zeros appear")
      } else {
        #expect(!batch.scalars.contains(0))
      }
      let flips = crops.filter(\.flip).count
      #expect(flip ? (flips > 10 && flips < n - 10) : flips == 0)
    }
  }

  @Test func augmentationIsAFunctionOfSeedEpochAndSample() throws {
    let (n, h, w) = (32, 6, 6)
    let data = try ImageDataset(
      images: [UInt8](repeating: 200, count: n * h * w), labels: [UInt8](repeating: 1, count: n),
      height: h, width: w)
    let augmentation = ImageAugmentation(padding: 2, horizontalFlip: true, seed: 7, epoch: 0)

    // The same sample in another batch position, batch or call: the same crop.
    let a = data.batch(indices: [5, 9, 17], as: Float.self, augmentation: augmentation)
    let b = data.batch(indices: [17, 5], as: Float.self, augmentation: augmentation)
    #expect(a.row(0) == b.row(1))
    #expect(a.row(2) == b.row(0))
    let again = ImageAugmentation(padding: 2, horizontalFlip: true, seed: 7, epoch: 0)
    #expect((0..<n).allSatisfy { augmentation.crop(sample: $0) == again.crop(sample: $0) })
    // Double and Float agree on the crop.
    let d = data.batch(indices: [5, 9, 17], as: Double.self, augmentation: augmentation)
    #expect(d.scalars.map { $0 == 0 } == a.scalars.map { $0 == 0 })

    // Another epoch or seed: usually another crop.
    var epoch1 = augmentation
    epoch1.epoch = 1
    var seed8 = augmentation
    seed8.seed = 8
    let differentEpoch = (0..<n).filter {
      augmentation.crop(sample: $0) != epoch1.crop(sample: $0)
    }
    let differentSeed = (0..<n).filter { augmentation.crop(sample: $0) != seed8.crop(sample: $0) }
    #expect(differentEpoch.count > n / 2)
    #expect(differentSeed.count > n / 2)

    // Padding zeros sit at the border: rows and columns outside the shifted image.
    let all = data.batch(indices: Array(0..<n), as: Float.self, augmentation: augmentation)
    var sawZeros = false
    for sample in 0..<n {
      let crop = augmentation.crop(sample: sample)
      let row = Array(all.row(sample))
      let shift = (row: crop.dy - 2, column: crop.dx - 2)
      for r in 0..<h {
        for c in 0..<w {
          let column = crop.flip ? w - 1 - c : c
          let inside =
            (0..<h).contains(r + shift.row) && (0..<w).contains(column + shift.column)
          #expect(row[r * w + c] == (inside ? Float(200) / 255 : 0))
          if !inside {
            sawZeros = true
            // A padding pixel is on the border band of width 2.
            #expect(r < 2 || r >= h - 2 || c < 2 || c >= w - 2)
          }
        }
      }
    }
    #expect(sawZeros)

    // Normalised padding is the normalised zero byte.
    let normalised = data.batch(
      indices: Array(0..<n), as: Float.self, normalization: .fashionMNIST,
      augmentation: augmentation)
    let zero = (0 - Float(0.2860)) / Float(0.3530)
    #expect(zip(all.scalars, normalised.scalars).allSatisfy { $0 == 0 ? $1 == zero : $1 != zero })
  }

  @Test func augmentationStreamLayout() {
    #expect(ImageAugmentation.stream(epoch: 5) == 0x4155_4730_0000_0005)
    let augmentation = ImageAugmentation(padding: 4, horizontalFlip: true, seed: 99, epoch: 5)
    let bits = CounterRandom(seed: 99).block(stream: 0x4155_4730_0000_0005, counter: 123)
    let crop = augmentation.crop(sample: 123)
    #expect(crop.dy == Int((UInt64(bits[0]) * 9) >> 32))
    #expect(crop.dx == Int((UInt64(bits[1]) * 9) >> 32))
    #expect(crop.flip == (bits[2] >> 31 == 1))
  }
}

@Suite struct FashionMNISTFileTests {
  static let available = FileManager.default.fileExists(
    atPath: ImageDataset.fashionMNISTDirectory + "/train-images-idx3-ubyte.gz")

  @Test(.enabled(if: available)) func trainSplit() throws {
    let clock = ContinuousClock()
    let start = clock.now
    let train = try ImageDataset.fashionMNIST(split: .train)
    let elapsed = clock.now - start
    print("Fashion-MNIST train (60000 images, 47 MB inflated) read in \(elapsed)")
    #expect(train.count == 60_000)
    #expect(train.height == 28 && train.width == 28)
    #expect(train.images.count == 60_000 * 28 * 28)
    #expect(train.labels.count == 60_000)
    #expect(train.labels.allSatisfy { $0 < 10 })
    var perClass = [Int](repeating: 0, count: 10)
    for label in train.labels { perClass[Int(label)] += 1 }
    #expect(perClass == [Int](repeating: 6000, count: 10))
    #expect(train.labels.first == 9, "the first training image is an ankle boot")
    // Pixels span the full byte range and the mean matches the usual figure.
    // (One pass over the raw bytes: this runs unoptimised.)
    let (low, high, sum) = train.images.withUnsafeBufferPointer { bytes in
      var (low, high, sum) = (UInt8.max, UInt8.min, 0)
      for byte in bytes {
        low = min(low, byte)
        high = max(high, byte)
        sum &+= Int(byte)
      }
      return (low, high, sum)
    }
    #expect(low == 0 && high == 255)
    let mean = Double(sum) / Double(train.images.count) / 255
    #expect(abs(mean - PixelNormalization.fashionMNIST.mean) < 5e-4)

    let batch = train.batch(indices: [0, 59_999], as: Float.self)
    #expect(batch.shape == [2, 1, 28, 28])
    #expect(batch.scalars.allSatisfy { (0...1).contains($0) })
  }

  @Test(.enabled(if: available)) func testSplit() throws {
    let test = try ImageDataset.fashionMNIST(split: .test)
    #expect(test.count == 10_000)
    #expect(test.height == 28 && test.width == 28)
    var perClass = [Int](repeating: 0, count: 10)
    for label in test.labels { perClass[Int(label)] += 1 }
    #expect(perClass == [Int](repeating: 1000, count: 10))
  }
}
