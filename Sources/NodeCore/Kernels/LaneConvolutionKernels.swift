import CNodeKernels

/// Convolutions with sixteen samples in the vector lanes (`lane_conv.c`,
/// AVX-512), and the transposes into and out of that layout.
///
/// In the lane layout of a group of sixteen samples, value `j` of every
/// sample's row (`[channels, pixels]`) is one vector: sample `i` at
/// `16 j + i`. A tap then lies inside the plane for every lane or for none,
/// so the taps over the border are skipped rather than multiplied by zeros
/// (a 3 × 3 kernel on a 6 × 6 map: 256 of 324 pixel-taps are inside), and a
/// ``ConvolutionLaneMap`` lists what each output pixel reads, for any stride
/// and padding. Every lane's arithmetic is its own: a sample's values never
/// depend on the other samples of its group.
public enum LaneConvolutionKernels {
  /// Samples per group of the lane layout.
  public static let laneWidth = 16

  /// Whether the kernels run for `Scalar` on this CPU (`Float` with AVX-512 F and VL).
  public static func run<Scalar>(for _: Scalar.Type) -> Bool {
    Scalar.self == Float.self && DenseKernelSupport.avx512Available
  }

  /// The convolution of `groups` groups of sixteen samples in the lane
  /// layout: `out[o, q]` of each sample is `Σ_(t, p) Σ_c w[o, t, c] x[c, p]`
  /// over output pixel `q`'s terms `(t, p)` in the map's order and then the
  /// channels, summed from +0, one fused multiply-add per term. Every lane's
  /// sums are its own.
  ///
  /// - Parameters:
  ///   - lanes: the groups' inputs, `channels · map.inputPixels · 16` floats each.
  ///   - tapMajorWeight: the weight `[outputs, taps, channels]`.
  ///   - out: the groups' outputs, `outputs · map.outputPixels · 16` floats each.
  /// - Precondition: ``run(for:)``.
  public static func convolve<Scalar>(
    _ map: ConvolutionLaneMap, lanes: UnsafePointer<Scalar>, groups: Int, channels: Int,
    tapMajorWeight: UnsafePointer<Scalar>, outputs: Int, into out: UnsafeMutablePointer<Scalar>
  ) {
    precondition(run(for: Scalar.self), "the AVX-512 lane kernels do not run here")
    map.withMap {
      nd_conv_lanes_f32(
        $0, lanes.floats, groups, channels, tapMajorWeight.floats, outputs, out.floats)
    }
  }

  /// Adds the weight gradient of
  /// ``convolve(_:lanes:groups:channels:tapMajorWeight:outputs:into:)`` over
  /// `groups` groups to `weightGradient` (`[outputs, channels, taps]`,
  /// PyTorch's layout): `Σ dy[o, q] x[c, p]` over tap `t`'s pairs `(q, p)`,
  /// every lane and every group; and `Σ dy[o]` to `biasGradient` when given.
  /// Each lane sums group after group and pair after pair, the lanes are then
  /// reduced in one fixed order: the bits depend only on the groups' contents.
  ///
  /// - Parameters:
  ///   - lanes: the groups' inputs, `channels · map.inputPixels · 16` floats each.
  ///   - cotangentLanes: the groups' output cotangents,
  ///     `outputs · map.outputPixels · 16` floats each.
  /// - Precondition: ``run(for:)``, a map with pairs (not a transposed one)
  ///   and at most ``maximumTaps`` taps.
  public static func accumulateWeightGradient<Scalar>(
    _ map: ConvolutionLaneMap, lanes: UnsafePointer<Scalar>,
    cotangentLanes: UnsafePointer<Scalar>, groups: Int, channels: Int, outputs: Int,
    into weightGradient: UnsafeMutablePointer<Scalar>,
    biasGradient: UnsafeMutablePointer<Scalar>?
  ) {
    precondition(run(for: Scalar.self), "the AVX-512 lane kernels do not run here")
    precondition(map.taps <= maximumTaps, "at most \(maximumTaps) taps, not \(map.taps)")
    precondition(map.hasPairs, "a transposed map has no weight gradient")
    map.withMap {
      nd_conv_lanes_weight_gradient_f32(
        $0, lanes.floats, cotangentLanes.floats, groups, channels, outputs,
        weightGradient.floats, biasGradient?.floats)
    }
  }

  /// The most taps the weight gradient takes (a 7 × 7 kernel).
  public static let maximumTaps = 49

  /// Writes the first `width` values of the rows of `rows` (at most sixteen)
  /// in the lane layout: value `j` of row `i` to `lanes[16 j + i]` (times
  /// `scales[i]` when given), +0 in the lanes past the last row.
  ///
  /// - Precondition: ``run(for:)``, `rows.rows ≤ 16` and `width ≤ rows.columns`.
  public static func toLanes<Scalar>(
    _ rows: MatrixView<Scalar>, width: Int, scales: UnsafePointer<Scalar>? = nil,
    into lanes: UnsafeMutablePointer<Scalar>
  ) {
    precondition(run(for: Scalar.self), "the AVX-512 lane kernels do not run here")
    precondition(rows.rows <= laneWidth && width <= rows.columns, "at most 16 rows of \(width)")
    nd_rows_to_lanes_f32(
      rows.base.floats, rows.rowStride, rows.rows, width, scales?.floats, lanes.floats)
  }

  /// The inverse of ``toLanes(_:width:scales:into:)``: value `j` of lane `i`
  /// to `rows[i, j]` for the rows of `rows`, plus `adding[j]` when given.
  ///
  /// - Precondition: ``run(for:)``, `rows.rows ≤ 16` and `width ≤ rows.columns`.
  public static func fromLanes<Scalar>(
    _ lanes: UnsafePointer<Scalar>, width: Int, adding: UnsafePointer<Scalar>? = nil,
    into rows: MutableMatrixView<Scalar>
  ) {
    precondition(run(for: Scalar.self), "the AVX-512 lane kernels do not run here")
    precondition(rows.rows <= laneWidth && width <= rows.columns, "at most 16 rows of \(width)")
    nd_lanes_to_rows_f32(
      lanes.floats, rows.rows, width, adding?.floats, rows.base.floats, rows.rowStride)
  }
}
