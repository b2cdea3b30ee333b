import NodeCore

/// im2col and col2im for stride-1 convolutions whose output has the input's
/// size (`kh = 2·padding + 1`, likewise in width: the ODE block's 3×3 pad-1
/// convolutions), without a branch per line.
///
/// For such maps the column row of kernel tap `(i, j)` is the input plane
/// shifted by `s = (i − p)·W + (j − p)` elements, with zeros where the tap
/// hangs over the border. In `Float` with AVX2 a block of samples is
/// unfolded side by side by ``SameSizeColumnKernels`` (each column row
/// written in one pass, the border taps skipped loads). Elsewhere each plane
/// is copied into a buffer with `p·W + p` zeros on either side and every
/// tap's row is one pass of `plane[q + s] · inside` over the `H·W` pixels,
/// with a fixed 0/1 mask of the taps that fall inside the input (a multiply,
/// which vectorises; a select did not). For finite inputs the values are
/// exactly those of ``ConvolutionGeometry/unfold(_:into:rowStride:)``; in the
/// portable passes a non-finite pixel can also turn a border zero of its own
/// sample into NaN — a sample whose output is non-finite through its
/// in-bounds taps anyway.
final class SameSizeColumns<Scalar: TensorScalar> {
  let geometry: ConvolutionGeometry
  /// `[taps, H·W]`: 1 where tap `t` of pixel `q` falls inside the input, else 0.
  private let inside: [Scalar]
  /// The zeros before (and after) a plane in `padded`.
  private let margin: Int
  private let padded: ScratchBuffer<Scalar>
  /// The taps: their shifts `s`, and the tables of the block kernels (`Float` with AVX2).
  private let table: SameSizeTapTable

  /// Columns for `geometry`, or nil when it is not a same-size stride-1 convolution.
  init?(_ geometry: ConvolutionGeometry) {
    let g = geometry
    guard g.stride == 1, g.outputHeight == g.inputHeight, g.outputWidth == g.inputWidth,
      g.kernelHeight == 2 * g.padding + 1, g.kernelWidth == 2 * g.padding + 1
    else { return nil }
    self.geometry = g
    let (h, w, p) = (g.inputHeight, g.inputWidth, g.padding)
    let table = SameSizeTapTable(height: h, width: w, padding: p)
    self.table = table
    inside = (0..<(table.taps * h * w)).map {
      table.isInside(tap: $0 / (h * w), pixel: $0 % (h * w)) ? 1 : 0
    }
    margin = p * w + p
    padded = ScratchBuffer(capacity: h * w + 2 * margin)
  }

  /// Unfolds every row of `x` (a block of samples `[C, H, W]`) side by side
  /// into `columns` `[C·kh·kw, rows·H·W]`, rows `rowStride` apart (entries
  /// past the block's pixels are not part of the result).
  func unfold(
    _ x: MatrixView<Scalar>, into columns: UnsafeMutablePointer<Scalar>, rowStride ld: Int
  ) {
    let pixels = geometry.inputHeight * geometry.inputWidth
    if SameSizeColumnKernels.run(for: Scalar.self) {
      SameSizeColumnKernels.unfold(
        table, samples: x, channels: geometry.inputChannels, into: columns, rowStride: ld)
      return
    }
    for s in 0..<x.rows { unfold(x.row(s), into: columns + s &* pixels, rowStride: ld) }
  }

  /// Folds `columns` (a block, as ``unfold(_:into:rowStride:)`` writes it)
  /// back onto every row of `x`, which it overwrites (col2im).
  func fold(_ columns: UnsafePointer<Scalar>, rowStride ld: Int, into x: MutableMatrixView<Scalar>)
  {
    if SameSizeColumnKernels.run(for: Scalar.self) {
      SameSizeColumnKernels.fold(
        table, columns: columns, rowStride: ld, channels: geometry.inputChannels, into: x)
      return
    }
    let pixels = geometry.inputHeight * geometry.inputWidth
    for s in 0..<x.rows { fold(columns + s &* pixels, rowStride: ld, into: x.row(s)) }
  }

  /// Unfolds one sample `[C, H, W]` into `columns` `[C·kh·kw, H·W]` (rows `rowStride` apart).
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  func unfold(
    _ x: UnsafePointer<Scalar>, into columns: UnsafeMutablePointer<Scalar>, rowStride ld: Int
  ) {
    let pixels = geometry.inputHeight * geometry.inputWidth
    let taps = table.taps
    let plane = padded.base + margin
    // A fold may have left values in the margins: the masks zero those taps,
    // but only finite values times zero are zero.
    padded.base.update(repeating: 0, count: margin)
    (plane + pixels).update(repeating: 0, count: margin)
    inside.withUnsafeBufferPointer { mask in
      table.shifts.withUnsafeBufferPointer { shift in
        for c in 0..<geometry.inputChannels {
          let source = x + c &* pixels
          for q in 0..<pixels { plane[q] = source[q] }
          for t in 0..<taps {
            let (out, tapMask, shifted) = (
              columns + (c &* taps &+ t) &* ld, mask.baseAddress! + t &* pixels,
              UnsafePointer(plane) + shift[t]
            )
            for q in 0..<pixels { out[q] = shifted[q] * tapMask[q] }
          }
        }
      }
    }
  }

  /// Adds columns `[C·kh·kw, H·W]` (rows `rowStride` apart) back onto one
  /// sample `[C, H, W]`, which it overwrites (col2im; no zeroing needed).
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  func fold(
    _ columns: UnsafePointer<Scalar>, rowStride ld: Int, into x: UnsafeMutablePointer<Scalar>
  ) {
    let pixels = geometry.inputHeight * geometry.inputWidth
    let taps = table.taps
    let buffer = padded.base
    let plane = buffer + margin
    inside.withUnsafeBufferPointer { mask in
      table.shifts.withUnsafeBufferPointer { shift in
        for c in 0..<geometry.inputChannels {
          buffer.update(repeating: 0, count: pixels &+ 2 &* margin)
          for t in 0..<taps {
            let (source, tapMask, shifted) = (
              columns + (c &* taps &+ t) &* ld, mask.baseAddress! + t &* pixels,
              plane + shift[t]
            )
            for q in 0..<pixels { shifted[q] += source[q] * tapMask[q] }
          }
          let target = x + c &* pixels
          for q in 0..<pixels { target[q] = plane[q] }
        }
      }
    }
  }
}
