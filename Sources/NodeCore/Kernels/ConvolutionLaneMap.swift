import CNodeKernels

/// What each output pixel of a 2-D convolution reads, as the lane kernels
/// (``LaneConvolutionKernels``) take it: output pixel `q` sums its terms —
/// a kernel tap and the input pixel it reads — in a fixed order, the taps
/// that hang over the border left out; and, for the weight gradient, each
/// tap's pairs of output pixel and input pixel.
///
/// PyTorch's geometry: output pixel `(i, j)` and tap `(a, b)` read input
/// pixel `(i·s + a − p, j·s + b − p)` for stride `s` and padding `p`.
public final class ConvolutionLaneMap: @unchecked Sendable {
  /// Pixels of an output plane.
  public let outputPixels: Int
  /// Pixels of an input plane.
  public let inputPixels: Int
  /// Kernel taps, `kh·kw`.
  public let taps: Int
  /// All output pixels' terms: the multiply-adds per output channel and
  /// input channel of one sample.
  public let terms: Int
  private let counts: UnsafeMutablePointer<Int32>
  private let termTaps: UnsafeMutablePointer<Int32>
  private let termSources: UnsafeMutablePointer<Int32>
  private let pairs:
    (
      counts: UnsafeMutablePointer<Int32>, outputs: UnsafeMutablePointer<Int32>,
      sources: UnsafeMutablePointer<Int32>
    )?

  /// The map of the convolution's transpose, which takes output cotangents
  /// to input cotangents: input pixel `p`'s terms are the output pixels `q`
  /// whose tap `t` reads `p`, as tap `T − 1 − t` (the kernel turned round:
  /// the weight `[C, taps, O]` with its taps reversed), in increasing order
  /// of it. A transposed map has no pairs and no transpose of its own.
  public let transposedMap: ConvolutionLaneMap?

  /// Whether the map lists each tap's pairs (a transposed map does not).
  public var hasPairs: Bool { pairs != nil }

  /// A map from its terms: `terms(q)` lists output pixel `q`'s (tap, input
  /// pixel) in summation order; `pairs(t)`, when given, tap `t`'s (output
  /// pixel, input pixel).
  private init(
    outputPixels: Int, inputPixels: Int, taps: Int, terms: (Int) -> [(Int, Int)],
    pairs: ((Int) -> [(Int, Int)])?, transposedMap: ConvolutionLaneMap?
  ) {
    (self.outputPixels, self.inputPixels, self.taps) = (outputPixels, inputPixels, taps)
    (counts, termTaps, termSources) = Self.table(rows: outputPixels, width: taps, terms)
    self.terms = (0..<outputPixels).reduce(0) { [counts] in $0 + Int(counts[$1]) }
    self.pairs = pairs.map { Self.table(rows: taps, width: outputPixels, $0) }
    self.transposedMap = transposedMap
  }

  /// The map of a convolution of `input` planes by a `kernel` with `stride`
  /// and `padding`: each output pixel's taps inside the input in increasing
  /// order, each tap's output pixels in increasing order.
  ///
  /// - Precondition: positive sizes, `stride ≥ 1`, `padding ≥ 0` and at
  ///   least one output pixel (a kernel larger than the padded input has
  ///   none, though integer division may say one: ``ConvolutionLaneMap``
  ///   then leaves out the taps past the input).
  public convenience init(
    input: (height: Int, width: Int), kernel: (height: Int, width: Int), stride: Int,
    padding: Int
  ) {
    let geometry = Geometry(input: input, kernel: kernel, stride: stride, padding: padding)
    let (inputPixels, taps) = (input.height * input.width, kernel.height * kernel.width)
    let transposed = ConvolutionLaneMap(
      outputPixels: inputPixels, inputPixels: geometry.outputPixels, taps: taps,
      terms: { p in
        // Input pixel p gets tap t of the output pixel that reads it there,
        // in increasing reversed tap T − 1 − t: the kernel turned round.
        (0..<taps).compactMap { reversed in
          geometry.reader(input: p, tap: taps - 1 - reversed).map { (reversed, $0) }
        }
      }, pairs: nil, transposedMap: nil)
    self.init(
      outputPixels: geometry.outputPixels, inputPixels: inputPixels, taps: taps,
      terms: { q in
        (0..<taps).compactMap { t in geometry.source(output: q, tap: t).map { (t, $0) } }
      },
      pairs: { t in
        (0..<geometry.outputPixels).compactMap { q in
          geometry.source(output: q, tap: t).map { (q, $0) }
        }
      }, transposedMap: transposed)
  }

  deinit {
    for table in [counts, termTaps, termSources] { table.deallocate() }
    if let pairs {
      for table in [pairs.counts, pairs.outputs, pairs.sources] { table.deallocate() }
    }
  }

  /// Calls `body` with the C view of the map.
  func withMap<R>(_ body: (UnsafePointer<nd_lane_map>) -> R) -> R {
    var map = nd_lane_map(
      outputs: outputPixels, inputs: inputPixels, taps: taps, counts: counts,
      term_taps: termTaps, term_sources: termSources, pair_counts: pairs?.counts,
      pair_outputs: pairs?.outputs, pair_sources: pairs?.sources)
    return withUnsafePointer(to: &map, body)
  }

  /// Row `i < rows` of `[rows, width]`: the count and the list of `entries(i)`.
  private static func table(rows: Int, width: Int, _ entries: (Int) -> [(Int, Int)]) -> (
    UnsafeMutablePointer<Int32>, UnsafeMutablePointer<Int32>, UnsafeMutablePointer<Int32>
  ) {
    let counts = UnsafeMutablePointer<Int32>.allocate(capacity: rows)
    let first = UnsafeMutablePointer<Int32>.allocate(capacity: rows * width)
    let second = UnsafeMutablePointer<Int32>.allocate(capacity: rows * width)
    for i in 0..<rows {
      let list = entries(i)
      precondition(list.count <= width, "row \(i) has \(list.count) entries for \(width)")
      counts[i] = Int32(list.count)
      for (j, entry) in list.enumerated() {
        (first[i * width + j], second[i * width + j]) = (Int32(entry.0), Int32(entry.1))
      }
    }
    return (counts, first, second)
  }

  /// PyTorch's convolution geometry on one plane.
  private struct Geometry {
    let input: (height: Int, width: Int)
    let kernel: (height: Int, width: Int)
    let stride: Int
    let padding: Int
    let output: (height: Int, width: Int)

    init(
      input: (height: Int, width: Int), kernel: (height: Int, width: Int), stride: Int,
      padding: Int
    ) {
      precondition(
        input.height > 0 && input.width > 0 && kernel.height > 0 && kernel.width > 0
          && stride >= 1 && padding >= 0, "positive sizes, stride ≥ 1 and padding ≥ 0")
      (self.input, self.kernel, self.stride, self.padding) = (input, kernel, stride, padding)
      output = (
        (input.height + 2 * padding - kernel.height) / stride + 1,
        (input.width + 2 * padding - kernel.width) / stride + 1
      )
    }

    var outputPixels: Int {
      precondition(output.height > 0 && output.width > 0, "at least one output pixel")
      return output.height * output.width
    }

    /// The input pixel that tap `t` of output pixel `q` reads, if inside.
    func source(output q: Int, tap t: Int) -> Int? {
      let y = (q / output.width) * stride + t / kernel.width - padding
      let x = (q % output.width) * stride + t % kernel.width - padding
      guard y >= 0 && y < input.height && x >= 0 && x < input.width else { return nil }
      return y * input.width + x
    }

    /// The output pixel whose tap `t` reads input pixel `p`, if any.
    func reader(input p: Int, tap t: Int) -> Int? {
      let i = p / input.width + padding - t / kernel.width
      let j = p % input.width + padding - t % kernel.width
      guard i >= 0 && j >= 0 && i % stride == 0 && j % stride == 0 else { return nil }
      let (row, column) = (i / stride, j / stride)
      guard row < output.height && column < output.width else { return nil }
      return row * output.width + column
    }
  }
}
