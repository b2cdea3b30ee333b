import CNodeKernels

/// The same-size convolution with sixteen samples in the vector lanes
/// (`lane_conv.c`, AVX-512), and the transposes into and out of that layout.
///
/// In the lane layout of a group of sixteen samples, value `j` of every
/// sample's row (`[channels, pixels]`) is one vector: sample `i` at
/// `16 j + i`. A tap then lies inside the plane for every lane or for none,
/// so the taps over the border are skipped rather than multiplied by zeros
/// (a 3 × 3 kernel on a 6 × 6 map: 256 of 324 pixel-taps are inside).
extension SameSizeColumnKernels {
  /// Samples per group of the lane layout.
  public static let laneWidth = 16

  /// The same-size convolution of `groups` groups of sixteen samples in the
  /// lane layout: `out[o, q]` of each sample is
  /// `Σ_t Σ_c w[o, t, c] x[c, q + shift_t]` over the taps inside the plane at
  /// `q`, summed from +0 with the taps outermost, one fused multiply-add per
  /// term — bitwise the values of
  /// ``convolve(_:planes:planeStride:samples:channels:tapMajorWeight:outputs:into:rowStride:)``
  /// for finite weights, whose border taps add `w · (+0)`.
  ///
  /// - Parameters:
  ///   - lanes: the groups' inputs, `channels · pixels · 16` floats each.
  ///   - tapMajorWeight: the weight `[outputs, taps, channels]`.
  ///   - out: the groups' outputs, `outputs · pixels · 16` floats each.
  /// - Precondition: ``convolvesImplicitly(for:)``.
  public static func convolve<Scalar>(
    _ table: SameSizeTapTable, lanes: UnsafePointer<Scalar>, groups: Int, channels: Int,
    tapMajorWeight: UnsafePointer<Scalar>, outputs: Int, into out: UnsafeMutablePointer<Scalar>
  ) {
    precondition(convolvesImplicitly(for: Scalar.self), "the AVX-512 kernel does not run here")
    table.withTaps {
      nd_conv_same_lanes_f32(
        $0, lanes.floats, groups, channels, tapMajorWeight.floats, outputs, out.floats)
    }
  }

  /// Writes the first `width` values of the rows of `rows` (at most sixteen)
  /// in the lane layout: value `j` of row `i` to `lanes[16 j + i]` (times
  /// `scales[i]` when given), +0 in the lanes past the last row.
  ///
  /// - Precondition: ``convolvesImplicitly(for:)``, `rows.rows ≤ 16` and
  ///   `width ≤ rows.columns`.
  public static func toLanes<Scalar>(
    _ rows: MatrixView<Scalar>, width: Int, scales: UnsafePointer<Scalar>? = nil,
    into lanes: UnsafeMutablePointer<Scalar>
  ) {
    precondition(convolvesImplicitly(for: Scalar.self), "the AVX-512 kernel does not run here")
    precondition(rows.rows <= laneWidth && width <= rows.columns, "at most 16 rows of \(width)")
    nd_rows_to_lanes_f32(
      rows.base.floats, rows.rowStride, rows.rows, width, scales?.floats, lanes.floats)
  }

  /// Adds the weight gradient of
  /// ``convolve(_:lanes:groups:channels:tapMajorWeight:outputs:into:)`` over
  /// `groups` groups to `weightGradient` (`[outputs, channels, taps]`, PyTorch's
  /// layout): `Σ_q dy[o, q] x[c, q + shift_t]` over the pixels where tap `t`
  /// is inside, every lane and every group; and `Σ dy[o]` to `biasGradient`
  /// when given. Each lane sums group after group and pixel after pixel, the
  /// lanes are then reduced in one fixed order: the bits depend only on the
  /// groups' contents.
  ///
  /// - Parameters:
  ///   - lanes: the groups' inputs, `channels · pixels · 16` floats each.
  ///   - cotangentLanes: the groups' output cotangents, `outputs · pixels · 16`
  ///     floats each.
  /// - Precondition: ``convolvesImplicitly(for:)`` and at most
  ///   ``maximumImplicitTaps`` taps.
  public static func accumulateWeightGradient<Scalar>(
    _ table: SameSizeTapTable, lanes: UnsafePointer<Scalar>,
    cotangentLanes: UnsafePointer<Scalar>, groups: Int, channels: Int, outputs: Int,
    into weightGradient: UnsafeMutablePointer<Scalar>,
    biasGradient: UnsafeMutablePointer<Scalar>?
  ) {
    precondition(convolvesImplicitly(for: Scalar.self), "the AVX-512 kernel does not run here")
    precondition(table.taps <= maximumImplicitTaps, "at most \(maximumImplicitTaps) taps")
    table.withTaps {
      nd_conv_same_lanes_weight_gradient_f32(
        $0, lanes.floats, cotangentLanes.floats, groups, channels, outputs,
        weightGradient.floats, biasGradient?.floats)
    }
  }

  /// The inverse of ``toLanes(_:width:into:)``: value `j` of lane `i` to
  /// `rows[i, j]` for the rows of `rows`, plus `adding[j]` when given.
  ///
  /// - Precondition: ``convolvesImplicitly(for:)``, `rows.rows ≤ 16` and
  ///   `width ≤ rows.columns`.
  public static func fromLanes<Scalar>(
    _ lanes: UnsafePointer<Scalar>, width: Int, adding: UnsafePointer<Scalar>? = nil,
    into rows: MutableMatrixView<Scalar>
  ) {
    precondition(convolvesImplicitly(for: Scalar.self), "the AVX-512 kernel does not run here")
    precondition(rows.rows <= laneWidth && width <= rows.columns, "at most 16 rows of \(width)")
    nd_lanes_to_rows_f32(
      lanes.floats, rows.rows, width, adding?.floats, rows.base.floats, rows.rowStride)
  }

  /// Whether a group of `samples` (at most sixteen) is cheaper in the lane
  /// layout than in 16-pixel strips: a group costs every inside tap of every
  /// pixel once, strips cost every tap of every strip the samples' pixels fill.
  public static func lanesPayOff(_ table: SameSizeTapTable, samples: Int) -> Bool {
    table.insideTaps < (samples * table.pixels + 15) / 16 * table.taps
  }
}
