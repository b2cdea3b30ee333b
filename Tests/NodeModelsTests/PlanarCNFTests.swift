import Foundation
import NodeCore
import NodeSensitivity
import NodeSolvers
import Testing

@testable import NodeModels

/// The gated planar CNF: its dynamics against the paper's formula, its
/// analytic trace against a finite-difference Jacobian, its hand-derived VJP
/// against finite differences, and per-sample independence.
@Suite struct PlanarCNFTests {
  /// D = 2, M = 3, H = 2, parameters at scale 0.8 (gates away from ½).
  static func field<Scalar: TensorScalar>(as _: Scalar.Type = Scalar.self) -> PlanarCNFField<Scalar>
  {
    let count = PlanarCNFField<Scalar>.parameterCount(dataDimension: 2, units: 3, gateWidth: 2)
    let random = CounterRandom(seed: 11)
    return PlanarCNFField(
      dataDimension: 2, units: 3, gateWidth: 2,
      parameters: (0..<count).map { Scalar(0.8) * random.normal(stream: 0, index: UInt64($0)) })
  }

  /// Rows of `[z, Δ]` with an unused padding column (row stride 4 > width 3),
  /// their times, cotangents and row weights.
  struct Inputs<Scalar: TensorScalar> {
    static var stride: Int { 4 }
    var states: [Scalar]
    var times: [Scalar]
    var cotangents: [Scalar]
    var weights: [Scalar]
    var rows: Int { times.count }

    init(rows: Int, seed: UInt64) {
      let random = CounterRandom(seed: seed)
      func draws(_ stream: UInt64, _ count: Int) -> [Scalar] {
        (0..<count).map { random.normal(stream: stream, index: UInt64($0)) }
      }
      states = draws(1, rows * Self.stride)
      times = draws(2, rows).map { 0.5 + $0 / 4 }
      cotangents = draws(3, rows * Self.stride)
      weights = draws(4, rows)
    }

    /// Only row `r`.
    func row(_ r: Int) -> Inputs {
      var copy = self
      let s = Self.stride
      copy.states = Array(states[(r * s)..<((r + 1) * s)])
      copy.times = [times[r]]
      copy.cotangents = Array(cotangents[(r * s)..<((r + 1) * s)])
      copy.weights = [weights[r]]
      return copy
    }
  }

  /// What one VJP call writes: `f`, `aᵀ∂f/∂z`, `aᵀ∂f/∂t`, `Σ_r w_r aᵀ∂f/∂θ`.
  struct Outputs<Scalar: TensorScalar> {
    var derivatives: [Scalar]
    var stateCotangents: [Scalar]
    var timeCotangents: [Scalar]
    var parameterGradient: [Scalar]
  }

  static func run<Scalar: TensorScalar>(_ field: PlanarCNFField<Scalar>, _ x: Inputs<Scalar>)
    -> Outputs<Scalar>
  {
    let (n, width, s) = (x.rows, field.dimension, Inputs<Scalar>.stride)
    var out = Outputs<Scalar>(
      derivatives: .init(repeating: 0, count: n * width),
      stateCotangents: .init(repeating: .nan, count: n * s),
      timeCotangents: .init(repeating: 0, count: n),
      parameterGradient: .init(repeating: 0, count: field.parameterCount))
    let ids = Array(0..<n)
    x.states.withUnsafeBufferPointer { z in
      x.cotangents.withUnsafeBufferPointer { a in
        out.derivatives.withUnsafeMutableBufferPointer { f in
          out.stateCotangents.withUnsafeMutableBufferPointer { zBar in
            out.parameterGradient.withUnsafeMutableBufferPointer { g in
              x.weights.withUnsafeBufferPointer { w in
                field.vectorJacobianProduct(
                  FieldBatch(
                    count: n, times: x.times,
                    states: MatrixView(base: z.baseAddress!, rows: n, columns: width, rowStride: s),
                    sampleIndices: ids),
                  cotangents: MatrixView(
                    base: a.baseAddress!, rows: n, columns: width, rowStride: s),
                  stateCotangents: MutableMatrixView(
                    base: zBar.baseAddress!, rows: n, columns: width, rowStride: s),
                  derivatives: MutableMatrixView(base: f.baseAddress!, rows: n, columns: width),
                  timeCotangents: &out.timeCotangents,
                  parameterGradient: ParameterGradientSink(
                    gradient: g.baseAddress!, rowWeights: w.baseAddress!))
              }
            }
          }
        }
      }
    }
    return out
  }

  /// `[f, −tr]` by `evaluate`, `[n, D + 1]`.
  static func evaluate(_ field: PlanarCNFField<Double>, _ x: Inputs<Double>) -> [Double] {
    let (n, width, s) = (x.rows, field.dimension, Inputs<Double>.stride)
    var out = [Double](repeating: 0, count: n * width)
    x.states.withUnsafeBufferPointer { z in
      out.withUnsafeMutableBufferPointer { f in
        field.evaluate(
          FieldBatch(
            count: n, times: x.times,
            states: MatrixView(base: z.baseAddress!, rows: n, columns: width, rowStride: s),
            sampleIndices: Array(0..<n)),
          into: MutableMatrixView(base: f.baseAddress!, rows: n, columns: width))
      }
    }
    return out
  }

  /// The paper's formula, written out from the named parameter blocks.
  @Test func dynamicsMatchTheDirectFormula() {
    let field: PlanarCNFField<Double> = Self.field()
    let x = Inputs<Double>(rows: 4, seed: 3)
    let blocks = field.parameterBlocks.map { Array(field.parameters[$0]) }
    let (w, b, u, alpha, beta, v, c) = (
      blocks[0], blocks[1], blocks[2], blocks[3], blocks[4], blocks[5], blocks[6]
    )
    let values = Self.evaluate(field, x)
    let viaVJP = Self.run(field, x).derivatives
    #expect(values == viaVJP)
    for r in 0..<x.rows {
      let z = Array(x.states[(r * 4)..<(r * 4 + 2)])
      let t = x.times[r]
      let hidden = (0..<2).map { k in tanh(alpha[k] * t + beta[k]) }
      var f = [0.0, 0.0]
      var trace = 0.0
      for n in 0..<3 {
        let logit = c[n] + hidden[0] * v[n * 2] + hidden[1] * v[n * 2 + 1]
        let gate = 1 / (1 + exp(-logit))
        let h = tanh(w[n * 2] * z[0] + w[n * 2 + 1] * z[1] + b[n])
        for i in 0..<2 { f[i] += gate * h * u[n * 2 + i] }
        trace += gate * (1 - h * h) * (u[n * 2] * w[n * 2] + u[n * 2 + 1] * w[n * 2 + 1])
      }
      for i in 0..<2 { #expect(abs(values[r * 3 + i] - f[i]) < 1e-14) }
      #expect(abs(values[r * 3 + 2] + trace) < 1e-14)
    }
  }

  /// `dΔ/dt = −tr(∂f/∂z)` against the trace of a fourth-order central
  /// finite-difference Jacobian.
  @Test func traceMatchesAFiniteDifferenceJacobian() {
    let field: PlanarCNFField<Double> = Self.field()
    let x = Inputs<Double>(rows: 3, seed: 4)
    let values = Self.evaluate(field, x)
    let step = 1e-3
    for r in 0..<x.rows {
      var trace = 0.0
      for k in 0..<2 {
        let fk = { (shift: Double) -> Double in
          var moved = x
          moved.states[r * 4 + k] += shift
          return Self.evaluate(field, moved)[r * 3 + k]
        }
        trace += (-fk(2 * step) + 8 * fk(step) - 8 * fk(-step) + fk(-2 * step)) / (12 * step)
      }
      #expect(abs(values[r * 3 + 2] + trace) < 1e-10, "row \(r): \(values[r * 3 + 2]) vs \(-trace)")
    }
  }

  /// Every output of the VJP against fourth-order central differences of
  /// `Σ_r aᵣᵀ[f, −tr]_r` (weighted by `w_r` for the parameters).
  @Test func vectorJacobianProductMatchesFiniteDifferences() {
    let field: PlanarCNFField<Double> = Self.field()
    let x = Inputs<Double>(rows: 3, seed: 5)
    let out = Self.run(field, x)
    let original = field.parameters
    func objective(_ inputs: Inputs<Double>, weighted: Bool) -> Double {
      let f = Self.evaluate(field, inputs)
      var sum = 0.0
      for r in 0..<inputs.rows {
        for i in 0..<3 {
          sum += (weighted ? inputs.weights[r] : 1) * inputs.cotangents[r * 4 + i] * f[r * 3 + i]
        }
      }
      return sum
    }
    func difference(_ shifted: (Double) -> Double) -> Double {
      let h = 1e-3
      return (-shifted(2 * h) + 8 * shifted(h) - 8 * shifted(-h) + shifted(-2 * h)) / (12 * h)
    }
    var worst = 0.0
    func compare(_ value: Double, _ expected: Double) {
      worst = max(worst, abs(value - expected) / max(abs(expected), 1e-2))
    }
    for r in 0..<x.rows {
      for i in 0..<3 {
        compare(
          out.stateCotangents[r * 4 + i],
          difference { s in
            var moved = x
            moved.states[r * 4 + i] += s
            return objective(moved, weighted: false)
          })
      }
      compare(
        out.timeCotangents[r],
        difference { s in
          var moved = x
          moved.times[r] += s
          return objective(moved, weighted: false)
        })
    }
    for j in 0..<field.parameterCount {
      compare(
        out.parameterGradient[j],
        difference { s in
          field.parameters[j] = original[j] + s
          defer { field.parameters = original }
          return objective(x, weighted: true)
        })
    }
    #expect(worst < 1e-9, "worst relative error \(worst)")
    // Δ does not enter the dynamics, and the padding column is left alone.
    for r in 0..<x.rows {
      #expect(out.stateCotangents[r * 4 + 2] == 0)
      #expect(out.stateCotangents[r * 4 + 3].isNaN)
    }
  }

  /// A row alone gives bitwise what it gives in a batch (outputs, state and
  /// time cotangents); the batch's parameter gradient is the sum of the rows'.
  @Test(arguments: [false, true])
  func rowsAreIndependentOfTheirBatch(inFloat: Bool) {
    if inFloat {
      Self.checkBatchInvariance(as: Float.self)
    } else {
      Self.checkBatchInvariance(as: Double.self)
    }
  }

  static func checkBatchInvariance<Scalar: TensorScalar>(as _: Scalar.Type) {
    let field = PlanarCNFField<Scalar>(
      dataDimension: 2, units: 24, gateWidth: 9, random: CounterRandom(seed: 8))
    let x = Inputs<Scalar>(rows: 37, seed: 6)
    let batch = run(field, x)
    var summed = [Double](repeating: 0, count: field.parameterCount)
    for r in 0..<x.rows {
      let alone = run(field, x.row(r))
      #expect(alone.derivatives[...] == batch.derivatives[(r * 3)..<(r * 3 + 3)])
      #expect(alone.stateCotangents[0..<3] == batch.stateCotangents[(r * 4)..<(r * 4 + 3)])
      #expect(alone.timeCotangents[0] == batch.timeCotangents[r])
      for j in summed.indices { summed[j] += Double(alone.parameterGradient[j]) }
    }
    let scale = summed.map(abs).max()!
    let gap = zip(summed, batch.parameterGradient).map { abs($0 - Double($1)) }.max()!
    #expect(gap <= scale * Double(Scalar.ulpOfOne) * 100)
  }

  /// Initialisation is a pure function of the seed, block by block.
  @Test func initialisationIsAFunctionOfTheSeed() {
    let a = PlanarCNFField<Double>(dataDimension: 2, units: 16, random: CounterRandom(seed: 1))
    let b = PlanarCNFField<Double>(dataDimension: 2, units: 16, random: CounterRandom(seed: 1))
    let c = PlanarCNFField<Double>(dataDimension: 2, units: 16, random: CounterRandom(seed: 2))
    #expect(a.parameters == b.parameters)
    #expect(a.parameters != c.parameters)
    #expect(a.parameterCount == 16 * (2 * 2 + 8 + 2) + 2 * 8)
    #expect(a.parameterBlocks.count == PlanarCNFField<Double>.parameterNames.count)
    #expect(a.parameterBlocks.last!.upperBound == a.parameterCount)
    // The gate's output bias starts at zero; the Float model is the Double one, rounded.
    #expect(a.parameters[a.parameterBlocks[6]].allSatisfy { $0 == 0 })
    let float = PlanarCNFField<Float>(dataDimension: 2, units: 16, random: CounterRandom(seed: 1))
    for (x, y) in zip(float.parameters, a.parameters) {
      #expect(abs(Double(x) - y) <= abs(y) * 1e-6)
    }
  }
}
