import CNodeKernels

/// The taps of a same-size stride-1 convolution (kernel `2p + 1`, padding
/// `p`) on one plane, as the CNodeKernels' im2col and col2im read them: tap
/// `t` reads the plane shifted by `shifts[t]` elements where it falls inside.
public final class SameSizeTapTable: @unchecked Sendable {
  /// Pixels per plane and kernel taps.
  public let pixels: Int
  public let taps: Int
  private let shifts: UnsafeMutablePointer<Int>
  private let inside: UnsafeMutablePointer<Int32>
  private let receives: UnsafeMutablePointer<Int32>

  /// The table of `shifts` (one per tap) and `inside` (`[taps, pixels]`:
  /// whether tap `t` of output pixel `q` falls inside the plane).
  ///
  /// - Precondition: `inside.count == shifts.count · pixels`.
  public init(pixels: Int, shifts: [Int], inside: [Bool]) {
    precondition(inside.count == shifts.count * pixels, "one inside flag per tap and pixel")
    self.pixels = pixels
    taps = shifts.count
    self.shifts = .allocate(capacity: taps)
    self.shifts.initialize(from: shifts, count: taps)
    self.inside = .allocate(capacity: inside.count)
    receives = .allocate(capacity: inside.count)
    for t in 0..<taps {
      for q in 0..<pixels {
        self.inside[t * pixels + q] = inside[t * pixels + q] ? -1 : 0
        // Input pixel q feeds tap t of output pixel q − shift, if that tap is inside.
        let source = q - shifts[t]
        let feeds = source >= 0 && source < pixels && inside[t * pixels + source]
        receives[t * pixels + q] = feeds ? -1 : 0
      }
    }
  }

  deinit {
    shifts.deallocate()
    inside.deallocate()
    receives.deallocate()
  }

  /// Calls `body` with the C view of the table.
  fileprivate func withTaps<R>(_ body: (UnsafePointer<nd_same_size_taps>) -> R) -> R {
    var table = nd_same_size_taps(
      pixels: pixels, taps: taps, shifts: shifts, inside: inside, receives: receives)
    return withUnsafePointer(to: &table, body)
  }
}

/// im2col and col2im of same-size stride-1 convolutions over a block of
/// samples side by side, in `Float` on CPUs with AVX2 (`columns.c`).
///
/// Each column row is written in one pass along the block, whole cache lines
/// at a time, and a tap over the border is a skipped load (+0), never a
/// multiply by a zero mask, so a non-finite pixel of one sample cannot reach
/// another. The values are exactly those of the per-sample passes.
public enum SameSizeColumnKernels {
  /// Whether the kernels run for `Scalar` on this CPU (`Float` with AVX2 and FMA).
  public static func run<Scalar>(for _: Scalar.Type) -> Bool { usesFloatKernels(Scalar.self) }

  /// Unfolds the first `channels` planes of every row of `samples` into
  /// `columns` `[channels · taps, rows · pixels]` (rows `rowStride` apart; the
  /// entries past the block's pixels are zeroed).
  ///
  /// - Precondition: ``run(for:)`` and `rowStride ≥ samples.rows · pixels`.
  public static func unfold<Scalar>(
    _ table: SameSizeTapTable, samples: MatrixView<Scalar>, channels: Int,
    into columns: UnsafeMutablePointer<Scalar>, rowStride ld: Int
  ) {
    precondition(run(for: Scalar.self) && ld >= samples.rows * table.pixels)
    table.withTaps {
      nd_unfold_same_f32(
        $0, samples.base.floats, samples.rowStride, samples.rows, channels, columns.floats, ld)
    }
  }

  /// Folds `columns` (as ``unfold(_:samples:channels:into:rowStride:)``
  /// writes them) back onto the first `channels` planes of every row of
  /// `inputs`, which it overwrites (col2im).
  ///
  /// - Precondition: ``run(for:)``.
  public static func fold<Scalar>(
    _ table: SameSizeTapTable, columns: UnsafePointer<Scalar>, rowStride ld: Int, channels: Int,
    into inputs: MutableMatrixView<Scalar>
  ) {
    precondition(run(for: Scalar.self))
    table.withTaps {
      nd_fold_same_f32(
        $0, columns.floats, ld, inputs.rows, channels, inputs.base.floats, inputs.rowStride)
    }
  }
}
