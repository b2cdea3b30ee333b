import NodeCore
import NodeSensitivity
import NodeSolvers

/// The gated planar continuous normalizing flow of Chen et al. 2018
/// (section 3, "Continuous Normalizing Flows"), with its analytic trace, for
/// the augmented state `[z, Δ]` of `D + 1` values per sample:
///
///     dz/dt = Σₙ σₙ(t) uₙ h(wₙᵀz + bₙ),
///     dΔ/dt = −tr(∂f/∂z) = −Σₙ σₙ(t) h′(wₙᵀz + bₙ) uₙᵀwₙ,
///
/// with `n = 1 … M` units and `h = tanh`. Each unit's Jacobian
/// `σₙ h′ uₙ wₙᵀ` has rank one, so the trace costs `O(MD)` (the paper's
/// "multiple hidden units with linear cost") instead of `D` Jacobian columns.
/// `Δ` never feeds back into the dynamics. With `dΔ/dt = −tr`, the
/// instantaneous change of variables (the paper's eq. 8) gives
/// `log q(z(t₁)) = log q(z(t₀)) + Δ(t₁) − Δ(t₀)`.
///
/// **Gates.** The paper lets a network of `t` decide when each unit acts,
/// `σₙ(t) ∈ (0, 1)`. Here `uₙ, wₙ, bₙ` are constant (as in the main text's
/// formula) and the gates are one small network, `1 → H → M`:
///
///     gₖ(t) = tanh(αₖ t + βₖ),   σₙ(t) = sigmoid(Σₖ Vₙₖ gₖ(t) + cₙ).
///
/// A hidden layer, rather than `sigmoid(aₙ t + cₙ)`, lets a unit switch on
/// and off again within `[0, T]` (a single sigmoid of `t` is monotone), which
/// is what lets a few planar units act in sequence like the stacked layers of
/// a discrete planar flow.
///
/// **Parameters**, one flat buffer in this order (``parameterBlocks``,
/// ``parameterNames``): `w` `[M, D]`, `b` `[M]`, `u` `[M, D]`,
/// `gate.hidden.weight` (α) `[H, 1]`, `gate.hidden.bias` (β) `[H]`,
/// `gate.output.weight` (V) `[M, H]`, `gate.output.bias` (c) `[M]`.
///
/// Every row-wise product goes through ``DenseKernel``, so outputs and state
/// cotangents are bitwise independent of the batch (OpenBLAS's GEMM is not,
/// see README, "Batch invariance"); the parameter gradients, sums over rows,
/// are BLAS GEMMs. Nothing is allocated once the scratch fits the batch.
public final class PlanarCNFField<Scalar: TensorScalar>: DifferentiableVectorField {
  /// `D`, the data dimension.
  public let dataDimension: Int
  /// `M`, the number of planar units.
  public let units: Int
  /// `H`, the hidden width of the gate network.
  public let gateWidth: Int

  /// The flat parameters (see the type's documentation for the layout).
  /// Setting them refreshes the transposed copies the kernels read.
  public var parameters: [Scalar] {
    didSet {
      precondition(
        parameters.count == parameterCount,
        "PlanarCNFField has \(parameterCount) parameters, got \(parameters.count)")
      refreshDerived()
    }
  }

  /// `[Wᵀ (D×M) | Uᵀ (D×M) | Vᵀ (H×M) | uₙᵀwₙ (M) | zeros (max(M, D, H))]`.
  let derived = ScratchBuffer<Scalar>()
  let gateHidden = ScratchBuffer<Scalar>()
  let gates = ScratchBuffer<Scalar>()
  let activations = ScratchBuffer<Scalar>()
  let coefficients = ScratchBuffer<Scalar>()
  let projectedCotangents = ScratchBuffer<Scalar>()
  let activationBars = ScratchBuffer<Scalar>()
  let logitBars = ScratchBuffer<Scalar>()
  let dotBars = ScratchBuffer<Scalar>()
  let hiddenBars = ScratchBuffer<Scalar>()

  /// A field with the given flat parameters.
  ///
  /// - Precondition: `dataDimension`, `units` and `gateWidth` are at least 1,
  ///   and `parameters` has ``parameterCount(dataDimension:units:gateWidth:)`` values.
  public init(dataDimension: Int, units: Int, gateWidth: Int, parameters: [Scalar]) {
    precondition(
      dataDimension >= 1, "PlanarCNFField: data dimension must be ≥ 1, got \(dataDimension)")
    precondition(units >= 1, "PlanarCNFField: units must be ≥ 1, got \(units)")
    precondition(gateWidth >= 1, "PlanarCNFField: gate width must be ≥ 1, got \(gateWidth)")
    let count = Self.parameterCount(
      dataDimension: dataDimension, units: units, gateWidth: gateWidth)
    precondition(
      parameters.count == count,
      "PlanarCNFField: \(count) parameters expected, got \(parameters.count)")
    self.dataDimension = dataDimension
    self.units = units
    self.gateWidth = gateWidth
    self.parameters = parameters
    refreshDerived()
  }

  /// A field whose parameters are a pure function of `random`'s seed: block
  /// `i` of ``parameterBlocks`` is drawn from stream `i`.
  ///
  /// Scales, chosen so the initial flow is a gentle perturbation of the
  /// identity on the standard normal base:
  /// - `wₙ ~ N(0, I)` and `bₙ ~ N(0, 1)`: unit slopes, hyperplanes within a
  ///   few units of the origin, where the base's mass is;
  /// - `uₙ ~ N(0, (0.5/√M)² I)`: the velocity `Σₙ σₙ uₙ h` has a scale of about
  ///   0.25 whatever `M`;
  /// - `αₖ, βₖ ~ N(0, 1)`, `Vₙₖ ~ N(0, 1/H)`, `cₙ = 0`: gates near ½ that
  ///   vary gently with `t`.
  public convenience init(dataDimension: Int, units: Int, gateWidth: Int = 8, random: CounterRandom)
  {
    precondition(
      dataDimension >= 1 && units >= 1 && gateWidth >= 1,
      "PlanarCNFField: sizes must be ≥ 1, got D = \(dataDimension), M = \(units), H = \(gateWidth)")
    let blocks = Self.blocks(dataDimension: dataDimension, units: units, gateWidth: gateWidth)
    let scales: [Scalar] = [
      1, 1, Scalar(0.5) / Scalar(units).squareRoot(), 1, 1, 1 / Scalar(gateWidth).squareRoot(), 0,
    ]
    var parameters = [Scalar](repeating: 0, count: blocks.last!.upperBound)
    for (i, (block, scale)) in zip(blocks, scales).enumerated() where scale != 0 {
      for j in block {
        parameters[j] =
          scale * random.normal(stream: UInt64(i), index: UInt64(j - block.lowerBound))
      }
    }
    self.init(
      dataDimension: dataDimension, units: units, gateWidth: gateWidth, parameters: parameters)
  }

  /// `D + 1`: the state and the log-density change.
  public var dimension: Int { dataDimension + 1 }

  /// The number of parameters, `M(2D + H + 2) + 2H`.
  public var parameterCount: Int {
    Self.parameterCount(dataDimension: dataDimension, units: units, gateWidth: gateWidth)
  }

  /// The number of parameters of a field of these sizes, `M(2D + H + 2) + 2H`.
  public static func parameterCount(dataDimension: Int, units: Int, gateWidth: Int) -> Int {
    blocks(dataDimension: dataDimension, units: units, gateWidth: gateWidth).last!.upperBound
  }

  /// `w`, `b`, `u`, `gate.hidden.weight`, `gate.hidden.bias`,
  /// `gate.output.weight`, `gate.output.bias`, in that order.
  public var parameterBlocks: [Range<Int>] {
    Self.blocks(dataDimension: dataDimension, units: units, gateWidth: gateWidth)
  }

  /// The names of ``parameterBlocks``, in order.
  public static var parameterNames: [String] {
    [
      "w", "b", "u", "gate.hidden.weight", "gate.hidden.bias", "gate.output.weight",
      "gate.output.bias",
    ]
  }

  static func blocks(dataDimension d: Int, units m: Int, gateWidth h: Int) -> [Range<Int>] {
    var start = 0
    return [m * d, m, m * d, h, h, m * h, m].map { size in
      defer { start += size }
      return start..<(start + size)
    }
  }

  // MARK: Layout of the flat buffer and of the derived copies

  /// The offsets of the blocks, in ``parameterBlocks`` order.
  /// (Arithmetic, not ``parameterBlocks``: the hot path must not allocate.)
  var offsets: (w: Int, b: Int, u: Int, alpha: Int, beta: Int, v: Int, c: Int) {
    let (d, m, h) = (dataDimension, units, gateWidth)
    let u = m * d + m
    let alpha = u + m * d
    return (0, m * d, u, alpha, alpha + h, alpha + 2 * h, alpha + 2 * h + m * h)
  }

  /// Offsets of `Wᵀ`, `Uᵀ`, `Vᵀ`, `uₙᵀwₙ` and the zeros in ``derived``.
  var derivedOffsets: (wT: Int, uT: Int, vT: Int, dots: Int, zeros: Int, count: Int) {
    let (d, m, h) = (dataDimension, units, gateWidth)
    let zeros = 2 * d * m + h * m + m
    return (0, d * m, 2 * d * m, 2 * d * m + h * m, zeros, zeros + Swift.max(m, d, h))
  }

  /// Rebuilds the transposes and `uₙᵀwₙ` from ``parameters``.
  private func refreshDerived() {
    let (d, m, h) = (dataDimension, units, gateWidth)
    let o = offsets
    let layout = derivedOffsets
    let out = derived.reserve(layout.count)
    parameters.withUnsafeBufferPointer { buffer in
      let p = buffer.baseAddress!
      transpose(p + o.w, rows: m, columns: d, into: out + layout.wT)
      transpose(p + o.u, rows: m, columns: d, into: out + layout.uT)
      transpose(p + o.v, rows: m, columns: h, into: out + layout.vT)
      for n in 0..<m {
        var dot: Scalar = 0
        for i in 0..<d { dot += p[o.u + n * d + i] * p[o.w + n * d + i] }
        out[layout.dots + n] = dot
      }
    }
    (out + layout.zeros).update(repeating: 0, count: layout.count - layout.zeros)
  }

  private func transpose(
    _ x: UnsafePointer<Scalar>, rows: Int, columns: Int, into out: UnsafeMutablePointer<Scalar>
  ) {
    for r in 0..<rows {
      for c in 0..<columns { out[c * rows + r] = x[r * columns + c] }
    }
  }

  // MARK: Forward

  /// The forward quantities of rows `0 ..< n`, in scratch: gate hidden values
  /// `g` `[n, H]`, gates `σ` `[n, M]`, activations `h` `[n, M]` and the
  /// coefficients `σₙ hₙ` `[n, M]`.
  struct Forward {
    let hidden: UnsafeMutablePointer<Scalar>
    let gates: UnsafeMutablePointer<Scalar>
    let activations: UnsafeMutablePointer<Scalar>
    let coefficients: UnsafeMutablePointer<Scalar>
  }

  /// Computes ``Forward`` for every row of `batch`.
  func forward(_ batch: FieldBatch<Scalar>, parameters p: UnsafePointer<Scalar>) -> Forward {
    let (n, d, m, h) = (batch.count, dataDimension, units, gateWidth)
    let o = offsets
    let layout = derivedOffsets
    let dp = UnsafePointer(derived.base)
    let g = gateHidden.reserve(n * h)
    let sigma = gates.reserve(n * m)
    let act = activations.reserve(n * m)
    let coefficient = coefficients.reserve(n * m)
    // gₖ = tanh(αₖ t + βₖ), then the gate logits V g + c.
    for r in 0..<n {
      let t = batch.times[r]
      for k in 0..<h { g[r * h + k] = Scalar.tanh(p[o.alpha + k] * t + p[o.beta + k]) }
    }
    DenseKernel.forward(
      g, rows: n, inputs: h, ldx: h, weight: p + o.v, transposedWeight: dp + layout.vT,
      bias: p + o.c, outputs: m, into: sigma, ldy: m, activation: .identity)
    for i in 0..<(n * m) { sigma[i] = Self.sigmoid(sigma[i]) }
    // hₙ = tanh(wₙᵀz + bₙ) on the z part of the rows.
    DenseKernel.forward(
      batch.states.base, rows: n, inputs: d, ldx: batch.states.rowStride, weight: p + o.w,
      transposedWeight: dp + layout.wT, bias: p + o.b, outputs: m, into: act, ldy: m,
      activation: .tanh)
    for i in 0..<(n * m) { coefficient[i] = sigma[i] * act[i] }
    return Forward(hidden: g, gates: sigma, activations: act, coefficients: coefficient)
  }

  /// Writes `[f, −tr ∂f/∂z]` of rows `0 ..< n` into `out`:
  /// `f = Σₙ (σₙ hₙ) uₙ` and `tr = Σₙ σₙ (1 − hₙ²) uₙᵀwₙ`.
  func write(
    _ values: Forward, rows n: Int, parameters p: UnsafePointer<Scalar>,
    into out: MutableMatrixView<Scalar>
  ) {
    let (d, m) = (dataDimension, units)
    let layout = derivedOffsets
    let dp = UnsafePointer(derived.base)
    // f = Uᵀ (σ ∘ h): a bias-free dense map M → D whose weight is Uᵀ.
    DenseKernel.forward(
      values.coefficients, rows: n, inputs: m, ldx: m, weight: dp + layout.uT,
      transposedWeight: p + offsets.u, bias: dp + layout.zeros, outputs: d, into: out.base,
      ldy: out.rowStride, activation: .identity)
    for r in 0..<n {
      var trace: Scalar = 0
      for k in 0..<m {
        let a = values.activations[r * m + k]
        trace += values.gates[r * m + k] * (1 - a * a) * dp[layout.dots + k]
      }
      out.row(r)[d] = -trace
    }
  }

  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public func evaluate(_ batch: FieldBatch<Scalar>, into derivatives: MutableMatrixView<Scalar>) {
    if batch.count == 0 { return }
    parameters.withUnsafeBufferPointer { buffer in
      let p = buffer.baseAddress!
      write(forward(batch, parameters: p), rows: batch.count, parameters: p, into: derivatives)
    }
  }

  /// `1/(1 + e⁻ˣ)` without overflow for either sign of `x`.
  @inline(__always)
  static func sigmoid(_ x: Scalar) -> Scalar {
    if x >= 0 { return 1 / (1 + Scalar.exp(-x)) }
    let e = Scalar.exp(x)
    return e / (1 + e)
  }
}
