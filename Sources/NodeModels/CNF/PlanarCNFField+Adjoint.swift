import NodeCore
import NodeSensitivity
import NodeSolvers

/// The hand-derived vector-Jacobian product of ``PlanarCNFField``.
///
/// For one row with cotangent `a = [a_z, a_Δ]`, the product is the gradient of
///
///     L = a_zᵀ f − a_Δ tr = Σₙ σₙ (hₙ pₙ − a_Δ h′ₙ qₙ),   pₙ = uₙᵀa_z,  qₙ = uₙᵀwₙ,
///
/// with `sₙ = wₙᵀz + bₙ`, `h′ = 1 − h²` and `h″ = −2 h h′`:
///
/// - `s̄ₙ = ∂L/∂sₙ = σₙ h′ₙ (pₙ + 2 a_Δ hₙ qₙ)` and `∂L/∂z = Σₙ s̄ₙ wₙ`
///   (the trace's own dependence on `z` is the `2 a_Δ hₙ qₙ` term);
/// - `ℓ̄ₙ = ∂L/∂ℓₙ = (hₙ pₙ − a_Δ h′ₙ qₙ) σₙ (1 − σₙ)` for the gate logits,
///   `μₖ = (Σₙ ℓ̄ₙ Vₙₖ)(1 − gₖ²)` for the gate's hidden pre-activations, and
///   `∂L/∂t = Σₖ μₖ αₖ`;
/// - `q̄ₙ = ∂L/∂qₙ = −a_Δ σₙ h′ₙ`, so `∂L/∂wₙ = s̄ₙ z + q̄ₙ uₙ`,
///   `∂L/∂uₙ = σₙ hₙ a_z + q̄ₙ wₙ`, `∂L/∂bₙ = s̄ₙ`, `∂L/∂Vₙₖ = ℓ̄ₙ gₖ`,
///   `∂L/∂cₙ = ℓ̄ₙ`, `∂L/∂αₖ = μₖ t`, `∂L/∂βₖ = μₖ`.
///
/// `Δ`'s own cotangent component is 0: `Δ` does not enter the dynamics.
extension PlanarCNFField {
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public func vectorJacobianProduct(
    _ batch: FieldBatch<Scalar>, cotangents: MatrixView<Scalar>,
    stateCotangents: MutableMatrixView<Scalar>?, derivatives: MutableMatrixView<Scalar>?,
    timeCotangents: UnsafeMutablePointer<Scalar>?,
    parameterGradient: ParameterGradientSink<Scalar>?
  ) {
    let n = batch.count
    if n == 0 { return }
    let (d, m, h) = (dataDimension, units, gateWidth)
    let o = offsets
    let layout = derivedOffsets
    let dp = UnsafePointer(derived.base)
    let zeros = dp + layout.zeros
    parameters.withUnsafeBufferPointer { buffer in
      let p = buffer.baseAddress!
      let values = forward(batch, parameters: p)
      if let derivatives { write(values, rows: n, parameters: p, into: derivatives) }
      // pₙ = uₙᵀa_z: a bias-free dense map D → M with weight U.
      let projected = projectedCotangents.reserve(n * m)
      DenseKernel.forward(
        cotangents.base, rows: n, inputs: d, ldx: cotangents.rowStride, weight: p + o.u,
        transposedWeight: dp + layout.uT, bias: zeros, outputs: m, into: projected, ldy: m,
        activation: .identity)
      let bars = Bars(
        activations: activationBars.reserve(n * m), logits: logitBars.reserve(n * m),
        dots: dotBars.reserve(n * m), hidden: hiddenBars.reserve(n * h))
      for r in 0..<n {
        let aDelta = cotangents.row(r)[d]
        for k in 0..<m {
          let i = r * m + k
          let (sigma, act, q) = (values.gates[i], values.activations[i], dp[layout.dots + k])
          let slope = 1 - act * act
          bars.activations[i] = sigma * slope * (projected[i] + 2 * aDelta * act * q)
          bars.logits[i] = (act * projected[i] - aDelta * slope * q) * sigma * (1 - sigma)
          bars.dots[i] = -aDelta * sigma * slope
        }
      }
      if let stateCotangents {
        // ∂L/∂z = Σₙ s̄ₙ wₙ: a bias-free dense map M → D whose weight is Wᵀ.
        DenseKernel.forward(
          bars.activations, rows: n, inputs: m, ldx: m, weight: dp + layout.wT,
          transposedWeight: p + o.w, bias: zeros, outputs: d, into: stateCotangents.base,
          ldy: stateCotangents.rowStride, activation: .identity)
        for r in 0..<n { stateCotangents.row(r)[d] = 0 }
      }
      if timeCotangents == nil && parameterGradient == nil { return }
      // μ = (Vᵀℓ̄) ∘ (1 − g²): a bias-free dense map M → H whose weight is Vᵀ.
      DenseKernel.forward(
        bars.logits, rows: n, inputs: m, ldx: m, weight: dp + layout.vT, transposedWeight: p + o.v,
        bias: zeros, outputs: h, into: bars.hidden, ldy: h, activation: .identity)
      for i in 0..<(n * h) {
        let g = values.hidden[i]
        bars.hidden[i] *= 1 - g * g
      }
      if let timeCotangents {
        for r in 0..<n {
          var sum: Scalar = 0
          for k in 0..<h { sum += bars.hidden[r * h + k] * p[o.alpha + k] }
          timeCotangents[r] = sum
        }
      }
      if let sink = parameterGradient {
        accumulate(
          batch, cotangents: cotangents, values: values, bars: bars, parameters: p, into: sink)
      }
    }
  }

  /// The cotangents of one batch's intermediate values, in scratch.
  struct Bars {
    /// `s̄` `[n, M]`, the cotangents of the units' pre-activations.
    let activations: UnsafeMutablePointer<Scalar>
    /// `ℓ̄` `[n, M]`, the cotangents of the gate logits.
    let logits: UnsafeMutablePointer<Scalar>
    /// `q̄` `[n, M]`, the cotangents of `uₙᵀwₙ`.
    let dots: UnsafeMutablePointer<Scalar>
    /// `μ` `[n, H]`, the cotangents of the gate's hidden pre-activations.
    let hidden: UnsafeMutablePointer<Scalar>
  }

  /// Adds `Σ_r w_r ∂L_r/∂θ` into the sink (the type's formulas). Scales the
  /// bars and the coefficients `σ ∘ h` by the row weights in place.
  private func accumulate(
    _ batch: FieldBatch<Scalar>, cotangents: MatrixView<Scalar>, values: Forward, bars: Bars,
    parameters p: UnsafePointer<Scalar>, into sink: ParameterGradientSink<Scalar>
  ) {
    let (n, d, m, h) = (batch.count, dataDimension, units, gateWidth)
    let o = offsets
    if let weights = sink.rowWeights {
      for r in 0..<n {
        let w = weights[r]
        for i in (r * m)..<((r + 1) * m) {
          bars.activations[i] *= w
          bars.logits[i] *= w
          bars.dots[i] *= w
          values.coefficients[i] *= w
        }
        for i in (r * h)..<((r + 1) * h) { bars.hidden[i] *= w }
      }
    }
    let g = sink.gradient
    // Σ_r s̄_r z_rᵀ, Σ_r (σ∘h)_r a_z,rᵀ and Σ_r ℓ̄_r g_rᵀ: sums over rows, one GEMM each.
    gemm(
      .transposed, .none, m: m, n: d, k: n, a: bars.activations, lda: m, b: batch.states.base,
      ldb: batch.states.rowStride, beta: 1, c: g + o.w, ldc: d)
    gemm(
      .transposed, .none, m: m, n: d, k: n, a: values.coefficients, lda: m, b: cotangents.base,
      ldb: cotangents.rowStride, beta: 1, c: g + o.u, ldc: d)
    gemm(
      .transposed, .none, m: m, n: h, k: n, a: bars.logits, lda: m, b: values.hidden, ldb: h,
      beta: 1, c: g + o.v, ldc: h)
    for k in 0..<m {
      var (sBar, lBar, qBar): (Scalar, Scalar, Scalar) = (0, 0, 0)
      for r in 0..<n {
        sBar += bars.activations[r * m + k]
        lBar += bars.logits[r * m + k]
        qBar += bars.dots[r * m + k]
      }
      g[o.b + k] += sBar
      g[o.c + k] += lBar
      // qₙ = uₙᵀwₙ: its cotangent reaches both vectors.
      for i in 0..<d {
        g[o.w + k * d + i] += qBar * p[o.u + k * d + i]
        g[o.u + k * d + i] += qBar * p[o.w + k * d + i]
      }
    }
    for k in 0..<h {
      var (alphaBar, betaBar): (Scalar, Scalar) = (0, 0)
      for r in 0..<n {
        alphaBar += bars.hidden[r * h + k] * batch.times[r]
        betaBar += bars.hidden[r * h + k]
      }
      g[o.alpha + k] += alphaBar
      g[o.beta + k] += betaBar
    }
  }
}
