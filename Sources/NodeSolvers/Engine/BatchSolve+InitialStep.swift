import NodeCore
import RealModule

extension BatchSolve {
  /// Hairer's initial step (Hairer, Nørsett, Wanner I, II.4), per sample or
  /// for the whole batch: `h₀ = 0.01 d₀/d₁` from the sizes of `y₀` and
  /// `f(t₀, y₀)`, then one explicit Euler trial to estimate the second
  /// derivative `d₂`, and `h = min(100 h₀, (0.01 / max(d₁, d₂))^(1/p))`.
  func selectInitialSteps(_ pi: PIController<Scalar>) {
    let ws = buffers
    let n = active
    let rtol = pi.relativeTolerance
    let atol = pi.absoluteTolerance
    let shared = pi.scope == .sharedAcrossBatch
    let y = ws.states
    let f0 = ws.stages[0]
    let f1 = ws.stages[1]
    let d = Scalar(errorDimension)
    // Unit steps for the norms' error kernel (see scaledSquareSums).
    ws.elementStep.update(repeating: 1, count: n * dimension)
    // d0, d1 per row in rowErrorSquares / rowNextStep as scratch.
    let d0 = ws.rowErrorSquares
    let d1 = ws.rowNextStep
    scaledSquareSums(of: y, into: d0, rtol: rtol, atol: atol)
    scaledSquareSums(of: f0, into: d1, rtol: rtol, atol: atol)
    normalise(d0, rows: n, elementsPerRow: d, shared: shared)
    normalise(d1, rows: n, elementsPerRow: d, shared: shared)
    for r in 0..<n {
      var h0 = d0[r] < 1e-5 || d1[r] < 1e-5 ? Scalar(1e-6) : Scalar(0.01) * d0[r] / d1[r]
      let span = Swift.abs(ws.sampleEndTime[ws.rowSample[r]] - ws.rowTime[r])
      h0 = Swift.min(h0, span, pi.maxStepSize)
      let signed = direction(row: r) * h0
      ws.rowStep[r] = signed
      ws.rowStageTime[r] = ws.rowTime[r] + signed
      let row = r * dimension
      for i in row..<(row + dimension) { ws.stageInput[i] = y[i] + signed * f0[i] }
    }
    evaluateStage(1, input: ws.stageInput, times: ws.rowStageTime)
    // d2 = ‖f(t₀ + h₀, y₀ + h₀ f₀) − f₀‖ / h₀, in the stage-time scratch.
    let d2 = ws.rowStageTime
    let difference = ws.stageInput
    for i in 0..<(n * dimension) { difference[i] = f1[i] - f0[i] }
    scaledSquareSums(of: difference, into: d2, rtol: rtol, atol: atol)
    normalise(d2, rows: n, elementsPerRow: d, shared: shared)
    // h1 = (0.01 / max(d1, d2))^(1/p), the powers in one vector pass.
    let derivatives = ws.rowErrorSquares
    let powers = ws.rowErrorPowers
    for r in 0..<n {
      derivatives[r] = Swift.max(d1[r], d2[r] / Swift.abs(ws.rowStep[r]))
      powers[r] = Scalar(0.01) / derivatives[r]
    }
    VectorMath.positivePower(powers, exponent: 1 / Scalar(method.order), into: powers, count: n)
    for r in 0..<n {
      let h0 = Swift.abs(ws.rowStep[r])
      let derivative = derivatives[r]
      var h1 = derivative <= 1e-15 ? Swift.max(Scalar(1e-6), h0 * Scalar(1e-3)) : powers[r]
      // A derivative that overflowed keeps h₀ (its power would be a zero step).
      if !h1.isFinite || !derivative.isFinite { h1 = h0 }
      ws.rowStep[r] = direction(row: r) * Swift.min(100 * h0, h1, pi.maxStepSize)
    }
  }

  /// Each active row's `Σ_d (v_d / (atol + rtol · |y₀_d|))²` over its
  /// controlled components into `sums` (`v_d = 0` counting 0), the
  /// divisions in one vector pass (``Elementwise/scaledErrorSquares``
  /// with unit steps and `y₀` as both states, so the scale is
  /// `atol + rtol · |y₀|`). Needs ones in `elementStep`; uses `errorScratch`.
  func scaledSquareSums(
    of values: UnsafePointer<Scalar>, into sums: UnsafeMutablePointer<Scalar>, rtol: Scalar,
    atol: Scalar
  ) {
    let ws = buffers
    Elementwise.scaledErrorSquares(
      count: active * dimension, errorSum: values, steps: ws.elementStep, start: ws.states,
      end: ws.states,
      relativeTolerance: rtol, absoluteTolerance: atol, into: ws.errorScratch)
    controlledRowSums(
      ws.errorScratch, rows: active, dimension: dimension, controlled: errorDimension, into: sums)
  }

  /// Turns per-row sums of squares into RMS norms, per row or over the batch.
  func normalise(
    _ sums: UnsafeMutablePointer<Scalar>, rows n: Int, elementsPerRow d: Scalar, shared: Bool
  ) {
    if shared {
      var total: Scalar = 0
      for r in 0..<n { total += sums[r] }
      let norm = (total / (d * Scalar(n))).squareRoot()
      for r in 0..<n { sums[r] = norm }
    } else {
      for r in 0..<n { sums[r] = (sums[r] / d).squareRoot() }
    }
  }
}
