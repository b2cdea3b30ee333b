import CNodeKernels

/// A per-row gate on a dense layer's outputs, with an optional time shift:
/// product row `i` is multiplied element-wise by gate row `i / rowsPerGate`
/// and, with a shift, `weight ⊙ times[i / rowsPerGate]` is added (FFJORD's
/// concat-squash `y = (W x + b) ⊙ g + d t`; the tangents of a sample, its
/// `K` consecutive rows, share its gate).
public struct RowGate<Scalar> {
  /// The gate, contiguous `[rows / rowsPerGate, outputs]`.
  public var gate: UnsafePointer<Scalar>
  /// Product rows per gate row.
  public var rowsPerGate: Int
  /// The time weight `d` (`outputs` values) and the gate rows' times, or nil.
  public var shift: (weight: UnsafePointer<Scalar>, times: UnsafePointer<Scalar>)?
  /// A tanh after the gate, written beside the gated product, or nil.
  public var tanh: GatedTanh<Scalar>?
  /// Whether the gated product is read again only much later (the pass is
  /// kept for a backward pass): the AVX-512 kernel then writes it with
  /// streaming stores, which skip reading its cache lines in first. The
  /// values are the same either way.
  public var streamsOutput = false

  /// A gate over `gate`'s rows, each shared by `rowsPerGate` product rows.
  ///
  /// - Precondition: `rowsPerGate ≥ 1`.
  public init(
    gate: UnsafePointer<Scalar>, rowsPerGate: Int = 1,
    shift: (weight: UnsafePointer<Scalar>, times: UnsafePointer<Scalar>)? = nil
  ) {
    precondition(rowsPerGate >= 1, "a gate row serves at least one product row")
    self.gate = gate
    self.rowsPerGate = rowsPerGate
    self.shift = shift
  }
}

/// The element-wise tanh after a gated product (a concat-squash layer and
/// the tanh that follows it, run as one): its output `tanh(y)` or, for
/// tangent rows, its JVP `(1 − s²) ẏ` with `s` the primal rows' tanh outputs.
public struct GatedTanh<Scalar> {
  /// Receives the tanh's output (or tangents), one row per product row.
  public var output: MutableMatrixView<Scalar>
  /// For tangents: the tanh outputs of the gate rows' samples,
  /// `[rows / rowsPerGate, outputs]`; nil: the primal pass, `tanh(y)`.
  public var primalOutputs: MatrixView<Scalar>?

  /// The tanh's output (`primalOutputs` nil) or its JVP into `output`.
  public init(output: MutableMatrixView<Scalar>, primalOutputs: MatrixView<Scalar>? = nil) {
    self.output = output
    self.primalOutputs = primalOutputs
  }
}

extension DenseKernel {
  /// ``forward(_:rows:inputs:ldx:weight:transposedWeight:bias:outputs:into:ldy:activation:)``
  /// without activation, then `y_i ← y_i ⊙ g_{i/K} (+ d t_{i/K})` as one fused
  /// multiply-add per element, and the optional ``GatedTanh`` from it. In
  /// `Float` with AVX2 the gate (and tanh) is applied to each tile of rows
  /// right after its multiply-adds, while it is in the L1 cache (for fewer
  /// than 8 outputs, row by row after the narrow kernel).
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public static func gatedForward<Scalar: TensorScalar>(
    _ x: UnsafePointer<Scalar>, rows: Int, inputs: Int, ldx: Int,
    weight: UnsafePointer<Scalar>, transposedWeight: UnsafePointer<Scalar>?,
    bias: UnsafePointer<Scalar>, outputs: Int, into y: UnsafeMutablePointer<Scalar>, ldy: Int,
    gate: RowGate<Scalar>
  ) {
    if rows == 0 { return }
    if usesFloatKernels(Scalar.self) && (outputs < 8 || transposedWeight != nil) {
      var rowGate = nd_row_gate()
      (rowGate.gate, rowGate.per) = (gate.gate.floats, gate.rowsPerGate)
      (rowGate.shift, rowGate.times) = (gate.shift?.weight.floats, gate.shift?.times.floats)
      rowGate.stream = gate.streamsOutput ? 1 : 0
      if let tanh = gate.tanh {
        (rowGate.act, rowGate.ldact) = (tanh.output.base.floats, tanh.output.rowStride)
        if let primal = tanh.primalOutputs {
          (rowGate.slope, rowGate.ldslope) = (primal.base.floats, primal.rowStride)
        }
      }
      if let transposedWeight, outputs >= 8 {
        nd_dense_wide_gated_f32(
          x.floats, rows, inputs, ldx, transposedWeight.floats, outputs, bias.floats, y.floats,
          ldy, &rowGate)
      } else {
        nd_dense_narrow_gated_f32(
          x.floats, rows, inputs, ldx, weight.floats, outputs, bias.floats, y.floats, ldy, &rowGate)
      }
      return
    }
    forward(
      x, rows: rows, inputs: inputs, ldx: ldx, weight: weight, transposedWeight: transposedWeight,
      bias: bias, outputs: outputs, into: y, ldy: ldy, activation: .identity)
    for i in 0..<rows {
      let gi = i / gate.rowsPerGate
      let (row, g) = (y + i &* ldy, gate.gate + gi &* outputs)
      if let (d, times) = gate.shift {
        let t = times[gi]
        for o in 0..<outputs { row[o] = (d[o] * t).addingProduct(row[o], g[o]) }
      } else {
        for o in 0..<outputs { row[o] *= g[o] }
      }
    }
    guard let tanh = gate.tanh else { return }
    // The tanh layer's own passes, row by row, so that the pair's result is
    // the layers' one by one.
    for i in 0..<rows {
      let (row, target) = (UnsafePointer(y + i &* ldy), tanh.output.row(i))
      if let primal = tanh.primalOutputs {
        TangentKernels.tanhJVP(
          output: MatrixView(base: primal.row(i / gate.rowsPerGate), rows: 1, columns: outputs),
          tangents: MatrixView(base: row, rows: 1, columns: outputs), blocks: 1,
          into: MutableMatrixView(base: target, rows: 1, columns: outputs))
      } else {
        VectorMath.tanh(row, into: target, count: outputs)
      }
    }
  }
}
