import NodeCore

// Dense output: the states at output times inside a step, from the method's
// continuous extension, with the extra stages some methods need for it.
extension BatchSolve {
  /// Whether row `r`'s step reaches the sample's next output time.
  @inline(__always)
  func coversNextOutput(row r: Int) -> Bool {
    let ws = buffers
    let s = ws.rowSample[r]
    let j = ws.sampleNextOutput[s]
    if j >= gridCount { return false }
    if ws.rowIsLast[r] { return true }
    let tau = gridTime(s, j)
    let end = timeAfterStep(row: r)
    return ws.rowStep[r] > 0 ? tau <= end : tau >= end
  }

  /// Evaluates the dense stages (DOP853's three) for the accepted rows whose
  /// step holds an output time strictly inside it: the rows are packed into
  /// the front of scratch buffers, evaluated in one field call per dense
  /// stage, and the results written back to the rows' stage buffers.
  func evaluateDenseStages() {
    let ws = buffers
    var selected = 0
    for r in 0..<active where ws.rowAccepted[r] && needsInterpolation(row: r) {
      ws.denseRows[selected] = r
      selected += 1
    }
    if selected == 0 { return }
    let input = ws.stageInput
    let output = ws.errorScratch
    for (e, terms) in denseStageTerms.enumerated() {
      let stage = method.stageCount + e
      let c = denseNodes[e]
      for p in 0..<selected {
        let r = ws.denseRows[p]
        let row = r * dimension
        let into = input + p * dimension
        // y + h Σ_j a_ej k_j in the order of the step's own stage inputs.
        let (weights, stages) = (terms.weights, terms.stages)
        for d in 0..<dimension { into[d] = weights[0] * stages[0][row + d] }
        for j in 1..<weights.count {
          for d in 0..<dimension { into[d] = into[d] + weights[j] * stages[j][row + d] }
        }
        let h = ws.rowStep[r]
        for d in 0..<dimension { into[d] = ws.states[row + d] + h * into[d] }
        ws.rowStageTime[p] = ws.rowTime[r] + c * h
        ws.denseIdentifiers[p] = ws.rowSampleIdentifier[r]
      }
      field.evaluate(
        FieldBatch(
          count: selected, times: ws.rowStageTime,
          states: MatrixView(base: input, rows: selected, columns: dimension),
          sampleIndices: ws.denseIdentifiers),
        into: MutableMatrixView(base: output, rows: selected, columns: dimension))
      for p in 0..<selected {
        let r = ws.denseRows[p]
        let target = ws.stages[stage] + r * dimension
        for d in 0..<dimension { target[d] = output[p * dimension + d] }
        ws.evaluations[ws.rowSample[r]] += 1
      }
    }
  }

  /// Whether row `r`'s step holds its sample's next output time strictly
  /// inside it (an output at the step's end is the step's own state).
  func needsInterpolation(row r: Int) -> Bool {
    let ws = buffers
    let s = ws.rowSample[r]
    let j = ws.sampleNextOutput[s]
    if j >= gridCount { return false }
    let tau = gridTime(s, j)
    let end = timeAfterStep(row: r)
    return ws.rowStep[r] > 0 ? tau < end : tau > end
  }

  /// Writes the outputs of every accepted row whose step reaches its next
  /// output time. (A loop inside a non-mutating method: called per row from
  /// the mutating ``step()``, each call copied the whole solve struct.)
  func emitCoveredOutputs() {
    for r in 0..<active where buffers.rowAccepted[r] && coversNextOutput(row: r) {
      emitOutputs(row: r)
    }
  }

  /// Writes the output times that row `r`'s accepted step covers, from the
  /// dense output `y(t + θh) = y + h Σ_i b_i(θ) k_i`; the step's end point is
  /// copied exactly.
  func emitOutputs(row r: Int) {
    let ws = buffers
    let s = ws.rowSample[r]
    let t = ws.rowTime[r]
    let h = ws.rowStep[r]
    let end = timeAfterStep(row: r)
    let forward = h > 0
    var j = ws.sampleNextOutput[s]
    let y0 = ws.states + r * dimension
    let y1 = ws.trialStates + r * dimension
    while j < gridCount {
      let tau = gridTime(s, j)
      if forward ? tau > end : tau < end { break }
      let out = outputRow(s, j)
      if tau == end {
        out.update(from: y1, count: dimension)
      } else {
        let theta = (tau - t) / h
        for d in 0..<dimension { out[d] = 0 }
        for (i, polynomial) in interpolant.enumerated() {
          // b_i(θ) = θ (p₁ + θ (p₂ + …)) by Horner's rule.
          var b: Scalar = 0
          for coefficient in polynomial.reversed() { b = b * theta + coefficient }
          b *= theta
          if b == 0 { continue }
          let k = ws.stages[i] + r * dimension
          for d in 0..<dimension { out[d] = out[d] + b * k[d] }
        }
        for d in 0..<dimension { out[d] = y0[d] + h * out[d] }
      }
      j += 1
    }
    ws.sampleNextOutput[s] = j
  }
}
