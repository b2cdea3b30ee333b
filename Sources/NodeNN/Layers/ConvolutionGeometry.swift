/// The shape of a 2-D convolution over one sample `[C, H, W]` (PyTorch's
/// `Conv2d` semantics: zero padding on every side, one stride for both axes).
public struct ConvolutionGeometry: Sendable, Equatable {
  /// Input channels `C`.
  public let inputChannels: Int
  /// Output channels `O`.
  public let outputChannels: Int
  /// Kernel height and width.
  public let kernelHeight: Int
  public let kernelWidth: Int
  /// Stride and zero padding.
  public let stride: Int
  public let padding: Int
  /// Input height and width.
  public let inputHeight: Int
  public let inputWidth: Int

  /// A geometry; the output must be at least one pixel.
  ///
  /// - Precondition: positive sizes, `padding ≥ 0`, and a kernel that fits the padded input.
  public init(
    inputChannels: Int, outputChannels: Int, kernel: (Int, Int), stride: Int = 1, padding: Int = 0,
    input: (height: Int, width: Int)
  ) {
    precondition(inputChannels > 0 && outputChannels > 0 && kernel.0 > 0 && kernel.1 > 0)
    precondition(stride > 0 && padding >= 0, "stride must be > 0 and padding ≥ 0")
    precondition(
      kernel.0 <= input.height + 2 * padding && kernel.1 <= input.width + 2 * padding,
      "a \(kernel.0)x\(kernel.1) kernel does not fit a \(input.height)x\(input.width) input with padding \(padding)"
    )
    self.inputChannels = inputChannels
    self.outputChannels = outputChannels
    kernelHeight = kernel.0
    kernelWidth = kernel.1
    self.stride = stride
    self.padding = padding
    inputHeight = input.height
    inputWidth = input.width
    precondition(
      outputHeight > 0 && outputWidth > 0,
      "a \(kernel.0)x\(kernel.1) kernel does not fit a \(input.height)x\(input.width) input with padding \(padding)"
    )
  }

  /// `⌊(H + 2p − kh) / s⌋ + 1`.
  public var outputHeight: Int { (inputHeight + 2 * padding - kernelHeight) / stride + 1 }
  /// `⌊(W + 2p − kw) / s⌋ + 1`.
  public var outputWidth: Int { (inputWidth + 2 * padding - kernelWidth) / stride + 1 }
  /// `C · kh · kw`: the rows of the unfolded input.
  public var patchSize: Int { inputChannels * kernelHeight * kernelWidth }
  /// `H' · W'`.
  public var outputPixels: Int { outputHeight * outputWidth }
  /// Features per sample in and out.
  public var inputSize: Int { inputChannels * inputHeight * inputWidth }
  public var outputSize: Int { outputChannels * outputPixels }

  /// The output positions `lo ..< hi` (along one axis of `count` outputs)
  /// whose input position `o·s − p + offset` falls inside `0 ..< size`.
  @inlinable
  func validRange(offset: Int, size: Int, count: Int) -> Range<Int> {
    var lo = 0
    while lo < count && lo * stride - padding + offset < 0 { lo += 1 }
    var hi = count
    while hi > lo && (hi - 1) * stride - padding + offset >= size { hi -= 1 }
    return lo..<hi
  }

  /// Unfolds one sample `[C, H, W]` into `columns` `[C·kh·kw, H'·W']` (im2col):
  /// column `p` holds the patch under output pixel `p`, zeros where it hangs
  /// over the border. Rows of `columns` are `rowStride` apart (default
  /// `H'·W'`; a batch of samples side by side has `samples · H'·W'`).
  @inlinable
  public func unfold<Scalar: BinaryFloatingPoint>(
    _ x: UnsafePointer<Scalar>, into columns: UnsafeMutablePointer<Scalar>, rowStride: Int? = nil
  ) {
    let ld = rowStride ?? outputPixels
    // Explicit loops with wrapping index arithmetic instead of memmove and
    // memset: the lines are a few pixels long (6 in the ODE block), where
    // the calls cost more than the copies.
    let (oh, ow) = (outputHeight, outputWidth)
    var row = 0
    for c in 0..<inputChannels {
      for i in 0..<kernelHeight {
        let rows = validRange(offset: i, size: inputHeight, count: oh)
        for j in 0..<kernelWidth {
          let out = columns + row &* ld
          let xs = validRange(offset: j, size: inputWidth, count: ow)
          for p in 0..<(rows.lowerBound &* ow) { out[p] = 0 }
          if stride == 1 && ow == inputWidth {
            // Same-size stride-1 maps: the valid rows are one contiguous copy
            // of the input plane shifted by s = j − padding, then the s
            // columns that wrapped around a line's end are zeroed.
            let shift = j &- padding
            let base: Int = (c &* inputHeight &+ i &- padding) &* inputWidth &+ shift
            let first = rows.lowerBound &* ow &+ Swift.max(0, -shift)
            let last = rows.upperBound &* ow &- Swift.max(0, shift)
            if first < last {
              for q in first..<last { out[q] = x[base &+ q] }
            }
            for y in rows {
              let line = out + y &* ow
              for xo in 0..<xs.lowerBound { line[xo] = 0 }
              for xo in xs.upperBound..<ow { line[xo] = 0 }
            }
            for p in (rows.upperBound &* ow)..<(oh &* ow) { out[p] = 0 }
            row += 1
            continue
          }
          for y in rows {
            let line = out + y &* ow
            // Pixel xo of this line reads source[xo · stride].
            let sourceRow: Int = c &* inputHeight &+ y &* stride &- padding &+ i
            let source = x + (sourceRow &* inputWidth &+ j &- padding)
            for xo in 0..<xs.lowerBound { line[xo] = 0 }
            if stride == 1 {
              for xo in xs { line[xo] = source[xo] }
            } else {
              for xo in xs { line[xo] = source[xo &* stride] }
            }
            for xo in xs.upperBound..<ow { line[xo] = 0 }
          }
          for p in (rows.upperBound &* ow)..<(oh &* ow) { out[p] = 0 }
          row += 1
        }
      }
    }
  }

  /// Adds unfolded columns back onto one sample `[C, H, W]` (col2im, the
  /// transpose of ``unfold(_:into:rowStride:)``); `x` must be zeroed by the
  /// caller first. Rows of `columns` are `rowStride` apart (default `H'·W'`).
  @inlinable
  public func fold<Scalar: BinaryFloatingPoint>(
    _ columns: UnsafePointer<Scalar>, addingInto x: UnsafeMutablePointer<Scalar>,
    rowStride: Int? = nil
  ) {
    let ld = rowStride ?? outputPixels
    let (oh, ow) = (outputHeight, outputWidth)
    var row = 0
    for c in 0..<inputChannels {
      for i in 0..<kernelHeight {
        let rows = validRange(offset: i, size: inputHeight, count: oh)
        for j in 0..<kernelWidth {
          let source = columns + row &* ld
          let xs = validRange(offset: j, size: inputWidth, count: ow)
          for y in rows {
            let line = source + y &* ow
            let targetRow: Int = c &* inputHeight &+ y &* stride &- padding &+ i
            let target = x + (targetRow &* inputWidth &+ j &- padding)
            if stride == 1 {
              for xo in xs { target[xo] += line[xo] }
            } else {
              for xo in xs { target[xo &* stride] += line[xo] }
            }
          }
          row += 1
        }
      }
    }
  }
}
