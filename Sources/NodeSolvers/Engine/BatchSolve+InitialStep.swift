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
    // d0, d1 per row in rowErrorSquares / rowNextStep as scratch.
    let d0 = ws.rowErrorSquares
    let d1 = ws.rowNextStep
    for r in 0..<n {
      let row = r * dimension
      d0[r] = sumOfScaledSquares(
        y + row, minus: nil, reference: y + row, dimension: errorDimension,
        relativeTolerance: rtol, absoluteTolerance: atol)
      d1[r] = sumOfScaledSquares(
        f0 + row, minus: nil, reference: y + row, dimension: errorDimension,
        relativeTolerance: rtol, absoluteTolerance: atol)
    }
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
    for r in 0..<n {
      let row = r * dimension
      d2[r] = sumOfScaledSquares(
        f1 + row, minus: f0 + row, reference: y + row, dimension: errorDimension,
        relativeTolerance: rtol, absoluteTolerance: atol)
    }
    normalise(d2, rows: n, elementsPerRow: d, shared: shared)
    let exponent = 1 / Scalar(method.order)
    for r in 0..<n {
      let h0 = Swift.abs(ws.rowStep[r])
      let derivative = Swift.max(d1[r], d2[r] / h0)
      var h1 =
        derivative <= 1e-15
        ? Swift.max(Scalar(1e-6), h0 * Scalar(1e-3))
        : Scalar.pow(Scalar(0.01) / derivative, exponent)
      if !h1.isFinite { h1 = h0 }
      ws.rowStep[r] = direction(row: r) * Swift.min(100 * h0, h1, pi.maxStepSize)
    }
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
