import CNodeKernels

/// The taps of a same-size stride-1 convolution (kernel `2p + 1` square,
/// padding `p`) on an `H × W` plane, as the CNodeKernels' im2col and col2im
/// read them: tap `t = i·(2p + 1) + j` reads the plane shifted by
/// `shifts[t] = (i − p)·W + (j − p)` elements, at the output pixels where it
/// falls inside the plane.
public final class SameSizeTapTable: @unchecked Sendable {
  /// Pixels per plane, `H·W`.
  public let pixels: Int
  /// Kernel taps, `(2p + 1)²`.
  public let taps: Int
  /// Each tap's shift.
  public let shifts: [Int]
  private let shiftTable: UnsafeMutablePointer<Int>
  private let inside: UnsafeMutablePointer<Int32>
  private let receives: UnsafeMutablePointer<Int32>

  /// The table of an `height × width` plane with padding `padding`.
  ///
  /// - Precondition: positive sizes and `padding ≥ 0`.
  public init(height: Int, width: Int, padding p: Int) {
    precondition(height > 0 && width > 0 && p >= 0, "a plane of positive size, padding ≥ 0")
    let side = 2 * p + 1
    pixels = height * width
    taps = side * side
    var shifts: [Int] = []
    for i in 0..<side {
      for j in 0..<side { shifts.append((i - p) * width + (j - p)) }
    }
    self.shifts = shifts
    shiftTable = .allocate(capacity: taps)
    shiftTable.initialize(from: shifts, count: taps)
    inside = .allocate(capacity: taps * pixels)
    receives = .allocate(capacity: taps * pixels)
    for t in 0..<taps {
      let (i, j) = (t / side, t % side)
      for q in 0..<pixels {
        let (y, x) = (q / width + i - p, q % width + j - p)
        inside[t * pixels + q] = y >= 0 && y < height && x >= 0 && x < width ? -1 : 0
      }
    }
    for t in 0..<taps {
      for q in 0..<pixels {
        // Input pixel q feeds tap t of output pixel q − shift, if that tap is inside.
        let source = q - shifts[t]
        let feeds = source >= 0 && source < pixels && inside[t * pixels + source] != 0
        receives[t * pixels + q] = feeds ? -1 : 0
      }
    }
  }

  /// Whether tap `t` of output pixel `q` falls inside the plane.
  public func isInside(tap t: Int, pixel q: Int) -> Bool { inside[t * pixels + q] != 0 }

  deinit {
    shiftTable.deallocate()
    inside.deallocate()
    receives.deallocate()
  }

  /// Calls `body` with the C view of the table.
  fileprivate func withTaps<R>(_ body: (UnsafePointer<nd_same_size_taps>) -> R) -> R {
    var table = nd_same_size_taps(
      pixels: pixels, taps: taps, shifts: shiftTable, inside: inside, receives: receives)
    return withUnsafePointer(to: &table, body)
  }
}

/// im2col and col2im of same-size stride-1 convolutions over a block of
/// samples side by side, in `Float` on CPUs with AVX2 (`columns.c`).
///
/// Each column row is written in one pass along the block, and a tap over the
/// border is a skipped load (+0), never a multiply by a zero mask, so a
/// non-finite pixel of one sample cannot reach another. The values are
/// exactly those of ``ConvolutionGeometry``'s general passes (and of the
/// portable same-size passes for finite inputs).
public enum SameSizeColumnKernels {
  /// Whether the kernels run for `Scalar` on this CPU (`Float` with AVX2 and FMA).
  public static func run<Scalar>(for _: Scalar.Type) -> Bool { usesFloatKernels(Scalar.self) }

  /// Unfolds the first `channels` planes of every row of `samples` into
  /// `columns` `[channels · taps, rows · pixels]`, rows `rowStride` apart
  /// (the entries past the block's pixels are not written).
  ///
  /// - Precondition: ``run(for:)``, `channels · pixels ≤ samples.columns`
  ///   and `rowStride ≥ samples.rows · pixels`.
  public static func unfold<Scalar>(
    _ table: SameSizeTapTable, samples: MatrixView<Scalar>, channels: Int,
    into columns: UnsafeMutablePointer<Scalar>, rowStride ld: Int
  ) {
    checkShape(
      table, channels: channels, rows: samples.rows, columns: samples.columns, rowStride: ld,
      Scalar.self)
    table.withTaps {
      nd_unfold_same_f32(
        $0, samples.base.floats, samples.rowStride, samples.rows, channels, columns.floats, ld)
    }
  }

  /// Folds `columns` (as ``unfold(_:samples:channels:into:rowStride:)``
  /// writes them) back onto the first `channels` planes of every row of
  /// `inputs`, which it overwrites (col2im).
  ///
  /// - Precondition: ``run(for:)``, `channels · pixels ≤ inputs.columns`
  ///   and `rowStride ≥ inputs.rows · pixels`.
  public static func fold<Scalar>(
    _ table: SameSizeTapTable, columns: UnsafePointer<Scalar>, rowStride ld: Int, channels: Int,
    into inputs: MutableMatrixView<Scalar>
  ) {
    checkShape(
      table, channels: channels, rows: inputs.rows, columns: inputs.columns, rowStride: ld,
      Scalar.self)
    table.withTaps {
      nd_fold_same_f32(
        $0, columns.floats, ld, inputs.rows, channels, inputs.base.floats, inputs.rowStride)
    }
  }

  /// The preconditions both kernels share: they run here, the planes fit the
  /// sample rows and the block rows hold every sample's pixels.
  private static func checkShape<Scalar>(
    _ table: SameSizeTapTable, channels: Int, rows: Int, columns: Int, rowStride ld: Int,
    _: Scalar.Type
  ) {
    precondition(run(for: Scalar.self), "the Float kernels do not run here")
    precondition(
      channels * table.pixels <= columns && ld >= rows * table.pixels,
      "\(channels) planes of \(table.pixels) pixels in rows of \(columns), block rows of \(ld)")
  }
}
