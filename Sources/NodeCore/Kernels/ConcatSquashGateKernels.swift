import CNodeKernels

/// The gate arithmetic of FFJORD's concat-squash layer `y = h ⊙ g + d t`,
/// `g = σ(a t + c)` per row (NodeNN's `ConcatSquashLinear`): the gate's share
/// of the backward passes of the layer and of its JVP (the forward product is
/// ``DenseKernel/gatedForward(_:rows:inputs:ldx:weight:transposedWeight:bias:outputs:into:ldy:gate:)``).
///
/// In `Float` on CPUs with AVX2 and FMA they run the CNodeKernels; elsewhere
/// portable loops. Parameter gradients add the rows in increasing order.
public enum ConcatSquashGateKernels {
  /// The operands of ``backward(_:)``; `width` is the layer's output size.
  public struct Backward<Scalar: TensorScalar> {
    /// The layer's output and its cotangent (nil: the tangent part alone).
    public var output: MatrixView<Scalar>?
    public var outputCotangent: MatrixView<Scalar>?
    /// The output tangents `ẏ_i` and their cotangents, `directions` blocks per row.
    public var tangents: MatrixView<Scalar>?
    public var tangentCotangents: MatrixView<Scalar>?
    public var directions: Int
    /// The gate, contiguous `[rows, width]`, and the rows' times.
    public var gate: UnsafePointer<Scalar>
    public var times: UnsafePointer<Scalar>
    /// Per-row weights of the parameter gradient (nil: all 1).
    public var rowWeights: UnsafePointer<Scalar>?
    /// The gate weight `a` and the time weight `d`.
    public var gateWeight: UnsafePointer<Scalar>
    public var timeWeight: UnsafePointer<Scalar>
    /// The gradients of `a`, `c`, `d` (`3 width` values, added to), or nil.
    public var gradient: UnsafeMutablePointer<Scalar>?
    /// The rows' time cotangents (added to), or nil.
    public var timeCotangents: UnsafeMutablePointer<Scalar>?
    /// The tanh's output `y_act = tanh(y)` when the layer's output goes on
    /// through a tanh (as in FFJORD's networks): ``outputCotangent`` and
    /// ``tangentCotangents`` are then the tanh output's and its tangents',
    /// taken back through the tanh first (see ``backward(_:)``). Nil: none.
    public var activatedOutput: MatrixView<Scalar>?
    /// Receives the layer output's cotangent times the gate, `ȳ ⊙ g` (what
    /// the linear map's backward pass takes), or nil.
    public var gatedOutputCotangent: MutableMatrixView<Scalar>?
    /// Receives `ẏ̄_i ⊙ g` per direction block, or nil.
    public var gatedTangentCotangents: MutableMatrixView<Scalar>?
    /// Receive `w_r (ȳ ⊙ g)` and `w_r (ẏ̄_i ⊙ g)`, the operands of the linear
    /// map's weight gradient, or nil (the first only with an output cotangent).
    public var weightedGatedOutputCotangent: MutableMatrixView<Scalar>?
    public var weightedGatedTangentCotangents: MutableMatrixView<Scalar>?
    /// The linear map's bias gradient (`width` values), to which each row adds
    /// `w_r (ȳ ⊙ g)` in increasing order, or nil.
    public var biasGradient: UnsafeMutablePointer<Scalar>?
    public var rows: Int
    public var width: Int

    /// Operands with the given gate and parameters, and no cotangents yet.
    public init(
      rows: Int, width: Int, gate: UnsafePointer<Scalar>, times: UnsafePointer<Scalar>,
      gateWeight: UnsafePointer<Scalar>, timeWeight: UnsafePointer<Scalar>
    ) {
      self.rows = rows
      self.width = width
      self.gate = gate
      self.times = times
      self.gateWeight = gateWeight
      self.timeWeight = timeWeight
      directions = 0
    }
  }

  /// The gate `g = σ(a t + c)` of `rows` rows of `width` values into `g`
  /// (contiguous): `a t + c` with two roundings, then ``VectorMath``'s sigmoid.
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public static func gate<Scalar: TensorScalar>(
    times: UnsafePointer<Scalar>, gateWeight a: UnsafePointer<Scalar>,
    gateBias c: UnsafePointer<Scalar>, rows: Int, width: Int, into g: UnsafeMutablePointer<Scalar>
  ) {
    if usesFloatKernels(Scalar.self) {
      nd_concat_squash_gate_f32(times.floats, a.floats, c.floats, g.floats, rows, width)
      return
    }
    // Row pointers and wrapping index arithmetic: loops that vectorise.
    for r in 0..<rows {
      let (row, t) = (g + r &* width, times[r])
      for o in 0..<width { row[o] = a[o] * t + c[o] }
    }
    VectorMath.sigmoid(g, count: rows * width)
  }

  /// With ``Backward/activatedOutput`` the cotangents first go back through
  /// the tanh, `s = 1 − y_act²`: `ȳ = s (ȳ_act − 2 y_act Σ_i ẏ_i ẏ̄_act,i)`,
  /// `ẏ̄_i = s ẏ̄_act,i` (`σ'' = −2 y σ'`). Then per row, with `w` its weight: the gate's slope
  /// `s = (ȳ ⊙ (y − d t) + Σ_i ẏ̄_i ⊙ ẏ_i) ⊙ (1 − g)` (`h g = y − d t`, and
  /// `ẏ_i = (W ẋ_i) g`, so both carry one `g` of `g' = g (1 − g)`); then
  /// `ā += w t s`, `c̄ += w s`, `d̄ += w t ȳ`, `t̄ += Σ_o (s a + ȳ d)`, and the
  /// linear map's `b̄ += w (ȳ ⊙ g)`.
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public static func backward<Scalar: TensorScalar>(_ p: Backward<Scalar>) {
    if usesFloatKernels(Scalar.self) {
      var args = nd_gate_backward_args()
      let blocks = p.tangents == nil || p.tangentCotangents == nil ? 0 : p.directions
      (args.rows, args.n, args.blocks) = (p.rows, p.width, blocks)
      if let y = p.output, let dy = p.outputCotangent {
        (args.y, args.ldy, args.dy, args.lddy) = (
          y.base.floats, y.rowStride, dy.base.floats, dy.rowStride
        )
      }
      if let images = p.tangents, let bars = p.tangentCotangents {
        (args.images, args.ldi) = (images.base.floats, images.rowStride)
        (args.bars, args.ldb) = (bars.base.floats, bars.rowStride)
      }
      (args.g, args.times, args.weights) = (p.gate.floats, p.times.floats, p.rowWeights?.floats)
      (args.a, args.d) = (p.gateWeight.floats, p.timeWeight.floats)
      (args.gradient, args.time_cotangents) = (p.gradient?.floats, p.timeCotangents?.floats)
      if let act = p.activatedOutput { (args.act, args.ldact) = (act.base.floats, act.rowStride) }
      if let gated = p.gatedOutputCotangent {
        (args.gated_dy, args.ldgdy) = (gated.base.floats, gated.rowStride)
      }
      if let gated = p.gatedTangentCotangents {
        (args.gated_bars, args.ldgb) = (gated.base.floats, gated.rowStride)
      }
      if let weighted = p.weightedGatedOutputCotangent {
        (args.weighted_gated_dy, args.ldwgdy) = (weighted.base.floats, weighted.rowStride)
      }
      if let weighted = p.weightedGatedTangentCotangents {
        (args.weighted_gated_bars, args.ldwgb) = (weighted.base.floats, weighted.rowStride)
      }
      args.bias_gradient = p.biasGradient?.floats
      nd_gate_backward_f32(&args)
      return
    }
    let (n, a, d) = (p.width, p.gateWeight, p.timeWeight)
    let k = p.tangents == nil || p.tangentCotangents == nil ? 0 : p.directions
    for r in 0..<p.rows {
      let (gr, t, w) = (p.gate + r &* n, p.times[r], p.rowWeights?[r] ?? 1)
      var timeCotangent: Scalar = 0
      for o in 0..<n {
        // The tanh's slope (1 without it).
        let yAct = p.activatedOutput.map { $0.row(r)[o] }
        let s = yAct.map { 1 - $0 * $0 } ?? 1
        var slope: Scalar = 0
        var upstream: Scalar = 0
        if let y = p.output, let dy = p.outputCotangent {
          upstream = dy.row(r)[o]
          if let yAct {
            var mixed: Scalar = 0
            if let images = p.tangents, let bars = p.tangentCotangents {
              for i in 0..<k { mixed += images.row(r)[i &* n &+ o] * bars.row(r)[i &* n &+ o] }
            }
            upstream = TangentKernels.tanhInputCotangent(
              output: yAct, outputCotangent: upstream, mixed: mixed)
          }
          let gated = upstream * gr[o]
          p.gatedOutputCotangent?.row(r)[o] = gated
          p.weightedGatedOutputCotangent?.row(r)[o] = w * gated
          p.biasGradient?[o] += w * gated
          slope = upstream * (y.row(r)[o] - d[o] * t)
        }
        if let images = p.tangents, let bars = p.tangentCotangents {
          for i in 0..<k {
            let bar = s * bars.row(r)[i &* n &+ o]
            let gated = bar * gr[o]
            p.gatedTangentCotangents?.row(r)[i &* n &+ o] = gated
            p.weightedGatedTangentCotangents?.row(r)[i &* n &+ o] = w * gated
            slope += bar * images.row(r)[i &* n &+ o]
          }
        }
        slope *= 1 - gr[o]
        if let ga = p.gradient {
          ga[o] += w * slope * t
          ga[n &+ o] += w * slope
          ga[2 &* n &+ o] += w * upstream * t
        }
        timeCotangent += slope * a[o] + upstream * d[o]
      }
      p.timeCotangents?[r] += timeCotangent
    }
  }
}
