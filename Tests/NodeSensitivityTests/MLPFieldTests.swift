import Foundation
import NodeCore
import NodeSolvers
import Testing

@testable import NodeSensitivity

/// ``MLPField``'s hand-derived vector-Jacobian product against central finite
/// differences in `Double`, for every activation, with and without a time
/// input: state cotangents `aᵀ∂f/∂z`, time cotangents `aᵀ∂f/∂t`, and the
/// weighted parameter gradient `Σ_r w_r a_rᵀ∂f/∂θ`, which must be *added* to
/// the sink's buffer. Also: the forward pass against an independent reference,
/// strided views (halves of an augmented state) with nothing outside them
/// touched, the per-sample gradient default, bitwise batch invariance, and the
/// seeded initialisation and parameter setter.
@Suite struct MLPFieldTests {
  static let widths = [3, 7, 5, 3]
  static let dimension = 3
  /// The finite-difference step.
  static let step = 1e-6
  /// The largest accepted relative error of a finite-difference check.
  static let tolerance = 1e-7
  /// Errors are relative to `max(|expected|, floor)`, an absolute floor for
  /// tiny values: rounding in the differenced outputs, `ε·|a·f|/h`, leaves
  /// about 1e-10 of absolute error in every finite difference.
  static let floor = 1e-2

  // MARK: - Finite differences

  @Test(arguments: MLPActivation.allCases, [false, true])
  func stateAndTimeCotangentsMatchFiniteDifferences(activation: MLPActivation, timeInput: Bool)
    throws
  {
    let field = makeField(activation, timeInput: timeInput)
    let problem = Problem.standard
    try requireAwayFromKinks(field, problem)
    let result = vectorJacobianProduct(field, problem, weights: problem.weights)

    let expectedState = finiteDifferenceStateCotangents(field, problem)
    #expect(maxAbs(expectedState) > 1e-2, "the check is not trivial")
    let stateError = maxRelativeError(result.stateCotangents, expectedState)
    #expect(stateError < Self.tolerance, "\(activation), time \(timeInput): state \(stateError)")

    let expectedTime = finiteDifferenceTimeCotangents(field, problem)
    if timeInput {
      #expect(maxAbs(expectedTime) > 1e-3, "the check is not trivial")
      let timeError = maxRelativeError(result.timeCotangents, expectedTime)
      #expect(timeError < Self.tolerance, "\(activation): time \(timeError)")
    } else {
      // Without a time input the field does not depend on t at all.
      #expect(expectedTime.allSatisfy { $0 == 0 })
      #expect(result.timeCotangents.allSatisfy { $0 == 0 })
    }
  }

  @Test(arguments: MLPActivation.allCases, [false, true])
  func parameterGradientMatchesFiniteDifferencesAndIsAdded(
    activation: MLPActivation, timeInput: Bool
  ) throws {
    let field = makeField(activation, timeInput: timeInput)
    let problem = Problem.standard
    try requireAwayFromKinks(field, problem)
    let prefill = (0..<field.parameterCount).map { 0.25 + 0.01 * Double($0) }

    for weights in [problem.weights, nil] {
      let result = vectorJacobianProduct(field, problem, weights: weights, gradient: prefill)
      let added = zip(result.parameterGradient, prefill).map { $0 - $1 }
      let expected = finiteDifferenceParameterGradient(
        field, problem, weights: weights ?? problem.times.map { _ in 1 })
      #expect(maxAbs(expected) > 1e-2, "the check is not trivial")
      let error = maxRelativeError(added, expected)
      #expect(
        error < Self.tolerance,
        "\(activation), time \(timeInput), weighted \(weights != nil): parameters \(error)")
    }
  }

  @Test(arguments: MLPActivation.allCases, [false, true])
  func derivativesEqualEvaluateAndMatchReference(activation: MLPActivation, timeInput: Bool) {
    let field = makeField(activation, timeInput: timeInput)
    let problem = Problem.standard
    let evaluated = evaluate(field, states: problem.states, times: problem.times)
    let result = vectorJacobianProduct(field, problem, weights: problem.weights)
    #expect(bits(result.derivatives) == bits(evaluated))

    let reference = (0..<problem.count).flatMap { r in
      referenceForward(field, state: problem.state(r), time: problem.times[r]).output
    }
    #expect(maxRelativeError(evaluated, reference, floor: 1) < 1e-14)
  }

  /// Asking for fewer outputs (only the gradient, or nothing but the state
  /// cotangents) changes none of the ones asked for.
  @Test(arguments: MLPActivation.allCases, [false, true])
  func optionalOutputsAreIndependent(activation: MLPActivation, timeInput: Bool) {
    let field = makeField(activation, timeInput: timeInput)
    let problem = Problem.standard
    let full = vectorJacobianProduct(field, problem, weights: problem.weights)
    let parameterCount = field.parameterCount

    var gradientOnly = [Double](repeating: 0, count: parameterCount)
    var stateOnly = [Double](repeating: 0, count: problem.states.count)
    problem.withBatch { batch, cotangents in
      problem.weights.withUnsafeBufferPointer { weights in
        gradientOnly.withUnsafeMutableBufferPointer { gradient in
          field.vectorJacobianProduct(
            batch, cotangents: cotangents, stateCotangents: nil, derivatives: nil,
            timeCotangents: nil,
            parameterGradient: ParameterGradientSink(
              gradient: gradient.baseAddress!, rowWeights: weights.baseAddress!))
        }
      }
      stateOnly.withUnsafeMutableBufferPointer { out in
        field.vectorJacobianProduct(
          batch, cotangents: cotangents,
          stateCotangents: MutableMatrixView(
            base: out.baseAddress!, rows: problem.count, columns: Self.dimension),
          derivatives: nil, timeCotangents: nil, parameterGradient: nil)
      }
    }
    #expect(maxRelativeError(gradientOnly, full.parameterGradient, floor: 1) < 1e-14)
    #expect(bits(stateOnly) == bits(full.stateCotangents))
  }

  // MARK: - Strided views

  /// States and cotangents are the two halves of an augmented `[n, 2D]`
  /// buffer; derivatives and state cotangents go into the halves of another,
  /// with a guard column and guard rows that must stay untouched.
  @Test(arguments: MLPActivation.allCases, [false, true])
  func stridedViews(activation: MLPActivation, timeInput: Bool) {
    let field = makeField(activation, timeInput: timeInput)
    let problem = Problem.standard
    let (n, d) = (problem.count, Self.dimension)
    let contiguous = vectorJacobianProduct(field, problem, weights: problem.weights)

    // Inputs: row r is [z_r, a_r].
    var augmented = [Double](repeating: 0, count: n * 2 * d)
    for r in 0..<n {
      for k in 0..<d {
        augmented[r * 2 * d + k] = problem.states[r * d + k]
        augmented[r * 2 * d + d + k] = problem.cotangents[r * d + k]
      }
    }
    let augmentedBefore = augmented
    // Outputs: row r is [f_r, aᵀ∂f/∂z_r, guard], then a guard row.
    let sentinel = -12345.678
    let outStride = 2 * d + 1
    var outputs = [Double](repeating: sentinel, count: (n + 1) * outStride)
    var times = [Double](repeating: sentinel, count: n + 1)
    let p = field.parameterCount
    var gradient = [Double](repeating: 0, count: p + 1)
    gradient[p] = sentinel

    augmented.withUnsafeBufferPointer { input in
      outputs.withUnsafeMutableBufferPointer { out in
        times.withUnsafeMutableBufferPointer { timeOut in
          gradient.withUnsafeMutableBufferPointer { grad in
            problem.weights.withUnsafeBufferPointer { weights in
              problem.withIdentity { rowTimes, sampleIndices in
                let batch = FieldBatch(
                  count: n, times: rowTimes,
                  states: MatrixView(
                    base: input.baseAddress!, rows: n, columns: d, rowStride: 2 * d),
                  sampleIndices: sampleIndices)
                field.vectorJacobianProduct(
                  batch,
                  cotangents: MatrixView(
                    base: input.baseAddress! + d, rows: n, columns: d, rowStride: 2 * d),
                  stateCotangents: MutableMatrixView(
                    base: out.baseAddress! + d, rows: n, columns: d, rowStride: outStride),
                  derivatives: MutableMatrixView(
                    base: out.baseAddress!, rows: n, columns: d, rowStride: outStride),
                  timeCotangents: timeOut.baseAddress!,
                  parameterGradient: ParameterGradientSink(
                    gradient: grad.baseAddress!, rowWeights: weights.baseAddress!))
              }
            }
          }
        }
      }
    }

    #expect(bits(augmented) == bits(augmentedBefore), "the inputs were written")
    var derivatives: [Double] = []
    var stateCotangents: [Double] = []
    for r in 0..<n {
      derivatives += outputs[(r * outStride)..<(r * outStride + d)]
      stateCotangents += outputs[(r * outStride + d)..<(r * outStride + 2 * d)]
      #expect(outputs[r * outStride + 2 * d] == sentinel, "guard column of row \(r)")
    }
    #expect(outputs[(n * outStride)...].allSatisfy { $0 == sentinel }, "guard row")
    #expect(times[n] == sentinel, "past the time cotangents")
    #expect(gradient[p] == sentinel, "past the parameter gradient")

    // Row by row, the same operations as with contiguous views.
    #expect(bits(derivatives) == bits(contiguous.derivatives))
    #expect(bits(stateCotangents) == bits(contiguous.stateCotangents))
    #expect(bits(Array(times[0..<n])) == bits(contiguous.timeCotangents))
    // Sums through BLAS, whose order may depend on the strides.
    #expect(
      maxRelativeError(Array(gradient[0..<p]), contiguous.parameterGradient, floor: 1) < 1e-14)
  }

  // MARK: - Per-sample gradients

  @Test(arguments: MLPActivation.allCases, [false, true])
  func perSampleGradientsSumToTheBatchedGradient(activation: MLPActivation, timeInput: Bool) {
    let field = makeField(activation, timeInput: timeInput)
    let problem = Problem.standard
    let (n, p) = (problem.count, field.parameterCount)
    let batched = vectorJacobianProduct(field, problem, weights: problem.weights)

    // Pre-filled with garbage: the default overwrites.
    var perSample = [Double](repeating: 99, count: n * p)
    problem.withBatch { batch, cotangents in
      problem.weights.withUnsafeBufferPointer { weights in
        perSample.withUnsafeMutableBufferPointer { out in
          field.perSampleParameterGradients(
            batch, cotangents: cotangents, rowWeights: weights.baseAddress!,
            into: out.baseAddress!)
        }
      }
    }
    let sum = (0..<p).map { j in (0..<n).reduce(0.0) { $0 + perSample[$1 * p + j] } }
    #expect(maxAbs(sum) > 1e-2)
    #expect(maxRelativeError(sum, batched.parameterGradient, floor: 1) < 1e-14)
    // The row of weight 0 contributes nothing.
    if let zeroRow = problem.weights.firstIndex(of: 0) {
      #expect(perSample[(zeroRow * p)..<((zeroRow + 1) * p)].allSatisfy { $0 == 0 })
    }
  }

  // MARK: - Batch invariance

  /// Each of 9 rows gives bitwise the same output and cotangents alone as
  /// inside the batch.
  @Test(arguments: MLPActivation.allCases, [false, true])
  func batchInvariance(activation: MLPActivation, timeInput: Bool) {
    let field = makeField(activation, timeInput: timeInput)
    let problem = Problem.random(count: 9, seed: 31)
    let d = Self.dimension
    let together = vectorJacobianProduct(field, problem, weights: nil)
    let evaluated = evaluate(field, states: problem.states, times: problem.times)
    for r in 0..<problem.count {
      let alone = problem.row(r)
      let single = vectorJacobianProduct(field, alone, weights: nil)
      let rows = (r * d)..<((r + 1) * d)
      #expect(bits(single.stateCotangents) == bits(Array(together.stateCotangents[rows])))
      #expect(bits(single.derivatives) == bits(Array(together.derivatives[rows])))
      #expect(bits(single.timeCotangents) == bits([together.timeCotangents[r]]))
      let singleEvaluated = evaluate(field, states: alone.states, times: alone.times)
      #expect(bits(singleEvaluated) == bits(Array(evaluated[rows])))
    }
  }

  // MARK: - Initialisation and parameters

  @Test(arguments: [false, true])
  func seededInitialisation(timeInput: Bool) {
    let widths = Self.widths
    let a = MLPField<Double>(widths: widths, activation: .tanh, timeInput: timeInput, seed: 7)
    let b = MLPField<Double>(widths: widths, activation: .relu, timeInput: timeInput, seed: 7)
    let c = MLPField<Double>(widths: widths, activation: .tanh, timeInput: timeInput, seed: 8)
    #expect(bits(a.parameters) == bits(b.parameters), "a pure function of the seed")
    #expect(a.parameters != c.parameters)

    // (3 + 1)·7 + (7 + 1)·5 + (5 + 1)·3, plus 7 for the time column.
    let count = timeInput ? 93 : 86
    #expect(MLPField<Double>.parameterCount(widths: widths, timeInput: timeInput) == count)
    #expect(a.parameterCount == count)
    #expect(a.parameters.count == count)
    #expect(a.inputWidth == (timeInput ? 4 : 3))

    // PyTorch: uniform in ±1/√fan_in, layer by layer (weight then bias).
    var offset = 0
    for l in 0..<(widths.count - 1) {
      let fanIn = widths[l] + (l == 0 && timeInput ? 1 : 0)
      let size = (fanIn + 1) * widths[l + 1]
      let layer = a.parameters[offset..<(offset + size)]
      let bound = 1 / Double(fanIn).squareRoot()
      #expect(layer.allSatisfy { abs($0) < bound }, "layer \(l) within ±\(bound)")
      #expect(layer.map(abs).max()! > 0.7 * bound, "layer \(l) spreads to its bound")
      #expect(layer.contains { $0 < 0 } && layer.contains { $0 > 0 })
      offset += size
    }
  }

  @Test(arguments: MLPActivation.allCases, [false, true])
  func parameterSetterRoundTrips(activation: MLPActivation, timeInput: Bool) {
    let field = makeField(activation, timeInput: timeInput)
    let problem = Problem.standard
    let original = field.parameters
    let before = evaluate(field, states: problem.states, times: problem.times)

    let replaced = original.enumerated().map { 0.9 * $1 + 0.001 * Double($0 % 5) }
    field.parameters = replaced
    #expect(bits(field.parameters) == bits(replaced))
    let fresh = MLPField<Double>(
      widths: Self.widths, activation: activation, timeInput: timeInput, parameters: replaced)
    let after = evaluate(field, states: problem.states, times: problem.times)
    #expect(bits(after) == bits(evaluate(fresh, states: problem.states, times: problem.times)))
    #expect(after != before)
    let freshVJP = vectorJacobianProduct(fresh, problem, weights: problem.weights)
    let fieldVJP = vectorJacobianProduct(field, problem, weights: problem.weights)
    #expect(bits(fieldVJP.stateCotangents) == bits(freshVJP.stateCotangents))
    #expect(bits(fieldVJP.parameterGradient) == bits(freshVJP.parameterGradient))

    field.parameters = original
    #expect(bits(field.parameters) == bits(original))
    #expect(bits(evaluate(field, states: problem.states, times: problem.times)) == bits(before))
  }
}

// MARK: - Helpers

/// A batch of rows, each with its own state, time, cotangent and weight.
private struct Problem {
  var states: [Double]
  var times: [Double]
  var cotangents: [Double]
  var weights: [Double]

  var count: Int { times.count }
  static var dimension: Int { MLPFieldTests.dimension }

  /// Four rows at their own times; one row has weight 0, one a negative weight.
  static let standard = Problem(
    states: [
      0.3, -0.8, 0.5,
      -1.1, 0.2, 0.9,
      0.7, 0.6, -0.4,
      -0.2, -0.5, 1.2,
    ],
    times: [0.1, -0.7, 1.3, 2.2],
    cotangents: [
      1.0, -0.5, 0.25,
      -0.3, 0.8, 1.1,
      0.6, 0.4, -0.9,
      -1.2, 0.7, 0.2,
    ],
    weights: [0.5, -1.25, 2, 0])

  /// `count` rows drawn uniformly from ±1 (times from 0 to 2).
  static func random(count: Int, seed: UInt64) -> Problem {
    let random = CounterRandom(seed: seed)
    func draw(_ stream: UInt64, _ n: Int) -> [Double] {
      (0..<n).map { 2 * random.uniform(stream: stream, index: UInt64($0)) - 1 }
    }
    let d = dimension
    return Problem(
      states: draw(0, count * d), times: draw(1, count).map { $0 + 1 },
      cotangents: draw(2, count * d), weights: draw(3, count))
  }

  func state(_ r: Int) -> ArraySlice<Double> {
    states[(r * Self.dimension)..<((r + 1) * Self.dimension)]
  }

  /// Row `r` alone.
  func row(_ r: Int) -> Problem {
    let d = Self.dimension
    return Problem(
      states: Array(states[(r * d)..<((r + 1) * d)]), times: [times[r]],
      cotangents: Array(cotangents[(r * d)..<((r + 1) * d)]), weights: [weights[r]])
  }

  /// Calls `body` with the times and the sample identifiers `0..<count`.
  func withIdentity<R>(_ body: (UnsafePointer<Double>, UnsafePointer<Int>) -> R) -> R {
    times.withUnsafeBufferPointer { t in
      Array(0..<count).withUnsafeBufferPointer { ids in body(t.baseAddress!, ids.baseAddress!) }
    }
  }

  /// Calls `body` with the batch over contiguous states and the cotangents.
  func withBatch<R>(_ body: (FieldBatch<Double>, MatrixView<Double>) -> R) -> R {
    let (n, d) = (count, Self.dimension)
    return states.withUnsafeBufferPointer { z in
      cotangents.withUnsafeBufferPointer { a in
        withIdentity { t, ids in
          body(
            FieldBatch(
              count: n, times: t, states: MatrixView(base: z.baseAddress!, rows: n, columns: d),
              sampleIndices: ids),
            MatrixView(base: a.baseAddress!, rows: n, columns: d))
        }
      }
    }
  }
}

/// The outputs of one vector-Jacobian product.
private struct ProductResult {
  var stateCotangents: [Double]
  var timeCotangents: [Double]
  var derivatives: [Double]
  var parameterGradient: [Double]
}

/// A seeded field of ``MLPFieldTests/widths``, its seed depending on the configuration.
private func makeField(_ activation: MLPActivation, timeInput: Bool) -> MLPField<Double> {
  let seed = UInt64(MLPActivation.allCases.firstIndex(of: activation)! * 2 + (timeInput ? 1 : 0))
  return MLPField(
    widths: MLPFieldTests.widths, activation: activation, timeInput: timeInput, seed: 100 + seed)
}

private func evaluate(_ field: MLPField<Double>, states: [Double], times: [Double]) -> [Double] {
  // Cotangents and weights are unused here.
  let problem = Problem(states: states, times: times, cotangents: states, weights: times)
  var out = [Double](repeating: .nan, count: states.count)
  problem.withBatch { batch, _ in
    out.withUnsafeMutableBufferPointer { y in
      field.evaluate(
        batch,
        into: MutableMatrixView(base: y.baseAddress!, rows: batch.count, columns: field.dimension))
    }
  }
  return out
}

/// Every output of the product over contiguous views, the parameter gradient
/// added to `gradient` (zeros by default).
private func vectorJacobianProduct(
  _ field: MLPField<Double>, _ problem: Problem, weights: [Double]?, gradient: [Double]? = nil
) -> ProductResult {
  let (n, d) = (problem.count, field.dimension)
  var result = ProductResult(
    stateCotangents: Array(repeating: .nan, count: n * d),
    timeCotangents: Array(repeating: .nan, count: n),
    derivatives: Array(repeating: .nan, count: n * d),
    parameterGradient: gradient ?? Array(repeating: 0, count: field.parameterCount))
  let rowWeights = weights ?? []
  problem.withBatch { batch, cotangents in
    rowWeights.withUnsafeBufferPointer { w in
      result.stateCotangents.withUnsafeMutableBufferPointer { s in
        result.derivatives.withUnsafeMutableBufferPointer { y in
          result.timeCotangents.withUnsafeMutableBufferPointer { t in
            result.parameterGradient.withUnsafeMutableBufferPointer { g in
              field.vectorJacobianProduct(
                batch, cotangents: cotangents,
                stateCotangents: MutableMatrixView(base: s.baseAddress!, rows: n, columns: d),
                derivatives: MutableMatrixView(base: y.baseAddress!, rows: n, columns: d),
                timeCotangents: t.baseAddress!,
                parameterGradient: ParameterGradientSink(
                  gradient: g.baseAddress!, rowWeights: weights == nil ? nil : w.baseAddress!))
            }
          }
        }
      }
    }
  }
  return result
}

/// `(g(+h) − g(−h)) / 2h` of row `r`'s `a_r · f(z_r, t_r)`, for states and times moved by `move`.
private func centralDifference(
  _ field: MLPField<Double>, _ problem: Problem, row r: Int,
  move: (inout Problem, Double) -> Void
) -> Double {
  let h = MLPFieldTests.step
  let d = MLPFieldTests.dimension
  var plus = problem
  var minus = problem
  move(&plus, h)
  move(&minus, -h)
  let fPlus = evaluate(field, states: plus.states, times: plus.times)
  let fMinus = evaluate(field, states: minus.states, times: minus.times)
  var sum = 0.0
  for k in 0..<d { sum += problem.cotangents[r * d + k] * (fPlus[r * d + k] - fMinus[r * d + k]) }
  return sum / (2 * h)
}

private func finiteDifferenceStateCotangents(_ field: MLPField<Double>, _ problem: Problem)
  -> [Double]
{
  let d = field.dimension
  return problem.states.indices.map { i in
    centralDifference(field, problem, row: i / d) { $0.states[i] += $1 }
  }
}

private func finiteDifferenceTimeCotangents(_ field: MLPField<Double>, _ problem: Problem)
  -> [Double]
{
  problem.times.indices.map { r in
    centralDifference(field, problem, row: r) { $0.times[r] += $1 }
  }
}

/// `Σ_r w_r a_r · ∂f/∂θ_j` by moving each parameter of a copy of the field.
private func finiteDifferenceParameterGradient(
  _ field: MLPField<Double>, _ problem: Problem, weights: [Double]
) -> [Double] {
  let h = MLPFieldTests.step
  let d = field.dimension
  let theta = field.parameters
  let copy = MLPField<Double>(
    widths: field.widths, activation: field.activation, timeInput: field.timeInput,
    parameters: theta)
  return theta.indices.map { j in
    var moved = theta
    moved[j] = theta[j] + h
    copy.parameters = moved
    let fPlus = evaluate(copy, states: problem.states, times: problem.times)
    moved[j] = theta[j] - h
    copy.parameters = moved
    let fMinus = evaluate(copy, states: problem.states, times: problem.times)
    var sum = 0.0
    for r in 0..<problem.count {
      for k in 0..<d {
        sum += weights[r] * problem.cotangents[r * d + k] * (fPlus[r * d + k] - fMinus[r * d + k])
      }
    }
    return sum / (2 * h)
  }
}

/// An independent forward pass of one row from the flat parameters, with the
/// pre-activations of every hidden layer.
private func referenceForward(_ field: MLPField<Double>, state: ArraySlice<Double>, time: Double)
  -> (output: [Double], preactivations: [[Double]])
{
  let sigma: (Double) -> Double =
    switch field.activation {
    case .tanh: { Foundation.tanh($0) }
    case .softplus: { log1p(exp($0)) }
    case .relu: { max($0, 0) }
    case .identity: { $0 }
    }
  let theta = field.parameters
  var x = field.timeInput ? [time] + state : Array(state)
  var preactivations: [[Double]] = []
  var offset = 0
  let layers = field.widths.count - 1
  for l in 0..<layers {
    let (inputs, outputs) = (x.count, field.widths[l + 1])
    var y = [Double](repeating: 0, count: outputs)
    for o in 0..<outputs {
      var sum = theta[offset + inputs * outputs + o]
      for i in 0..<inputs { sum += theta[offset + o * inputs + i] * x[i] }
      y[o] = sum
    }
    offset += (inputs + 1) * outputs
    if l == layers - 1 { return (y, preactivations) }
    preactivations.append(y)
    x = y.map(sigma)
  }
  fatalError("unreachable")
}

/// ReLU is differentiable only away from 0: finite differences are valid when
/// no hidden pre-activation lies within a margin far wider than the step's effect.
private func requireAwayFromKinks(_ field: MLPField<Double>, _ problem: Problem) throws {
  guard field.activation == .relu else { return }
  let preactivations = (0..<problem.count).flatMap { r in
    referenceForward(field, state: problem.state(r), time: problem.times[r]).preactivations
      .flatMap { $0 }
  }
  let margin = preactivations.map(abs).min()!
  try #require(margin > 1e-3, "a ReLU pre-activation is \(margin) from the kink")
  // Both sides of the kink occur, so the step function is exercised.
  #expect(preactivations.contains { $0 > 0 } && preactivations.contains { $0 < 0 })
}

private func maxAbs(_ values: [Double]) -> Double { values.map(abs).max() ?? 0 }

/// `max_i |actual_i − expected_i| / max(|expected_i|, floor)`.
private func maxRelativeError(
  _ actual: [Double], _ expected: [Double], floor: Double = MLPFieldTests.floor
) -> Double {
  precondition(actual.count == expected.count, "\(actual.count) vs \(expected.count) values")
  var worst = 0.0
  for (a, e) in zip(actual, expected) {
    let error = abs(a - e) / max(abs(e), floor)
    worst = max(worst, error.isNaN ? .infinity : error)
  }
  return worst
}

private func bits(_ values: [Double]) -> [UInt64] { values.map(\.bitPattern) }
