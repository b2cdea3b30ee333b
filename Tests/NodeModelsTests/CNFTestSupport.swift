import NodeCore
import NodeNN
import NodeSensitivity
import NodeSolvers

@testable import NodeModels

/// A small CNF (concat-squash `2 → 6 → 6 → 6 → 2`) with random parameters.
func smallCNF(
  trace: CNFTraceEstimator = .exact, regularisers: RNODERegularisers = [], seed: UInt64 = 5,
  scale: Double = 0.7
) -> CNFField<Double> {
  let network: Sequential<Double> = W1Flow.network(width: 6)
  let random = CounterRandom(seed: seed)
  let parameters = (0..<network.parameterCount).map {
    scale * random.normal(stream: 1, index: UInt64($0), as: Double.self)
  }
  return CNFField(
    network: network, parameters: parameters, trace: trace, regularisers: regularisers)
}

/// `count` standard normal values of `stream` under seed 11.
func normals(_ count: Int, stream: UInt64) -> [Double] {
  (0..<count).map { CounterRandom(seed: 11).normal(stream: stream, index: UInt64($0)) }
}

/// The field's derivatives of rows `z` (`[n, field.dimension]`) at times `t`.
func evaluate(_ field: CNFField<Double>, _ z: [Double], _ t: [Double], ids: [Int]) -> [Double] {
  let (n, w) = (t.count, field.dimension)
  var out = [Double](repeating: 0, count: n * w)
  z.withUnsafeBufferPointer { zp in
    out.withUnsafeMutableBufferPointer { op in
      field.evaluate(
        FieldBatch(
          count: n, times: t, states: MatrixView(base: zp.baseAddress!, rows: n, columns: w),
          sampleIndices: ids),
        into: MutableMatrixView(base: op.baseAddress!, rows: n, columns: w))
    }
  }
  return out
}

/// The field's VJP with cotangents `a`: state, time and `weights`-weighted
/// parameter cotangents, and the derivatives it wrote.
func vectorJacobianProduct(
  _ field: CNFField<Double>, _ z: [Double], _ t: [Double], ids: [Int], cotangents a: [Double],
  weights: [Double]
) -> (state: [Double], time: [Double], parameters: [Double], derivatives: [Double]) {
  let (n, w) = (t.count, field.dimension)
  var state = [Double](repeating: .nan, count: n * w)
  var derivatives = [Double](repeating: .nan, count: n * w)
  var time = [Double](repeating: .nan, count: n)
  var parameters = [Double](repeating: 0, count: field.parameterCount)
  z.withUnsafeBufferPointer { zp in
    a.withUnsafeBufferPointer { ap in
      state.withUnsafeMutableBufferPointer { sp in
        derivatives.withUnsafeMutableBufferPointer { dp in
          parameters.withUnsafeMutableBufferPointer { gp in
            weights.withUnsafeBufferPointer { wp in
              field.vectorJacobianProduct(
                FieldBatch(
                  count: n, times: t,
                  states: MatrixView(base: zp.baseAddress!, rows: n, columns: w),
                  sampleIndices: ids),
                cotangents: MatrixView(base: ap.baseAddress!, rows: n, columns: w),
                stateCotangents: MutableMatrixView(base: sp.baseAddress!, rows: n, columns: w),
                derivatives: MutableMatrixView(base: dp.baseAddress!, rows: n, columns: w),
                timeCotangents: &time,
                parameterGradient: ParameterGradientSink(
                  gradient: gp.baseAddress!, rowWeights: wp.baseAddress!))
            }
          }
        }
      }
    }
  }
  return (state, time, parameters, derivatives)
}

/// The fourth-order central difference `(−f(2h) + 8f(h) − 8f(−h) + f(−2h)) / 12h`.
func centralDifference(step h: Double, _ f: (Double) -> Double) -> Double {
  (-f(2 * h) + 8 * f(h) - 8 * f(-h) + f(-2 * h)) / (12 * h)
}

/// The relative error `|value − reference| / max(|reference|, floor)`.
func relativeError(_ value: Double, _ reference: Double, floor: Double = 1e-3) -> Double {
  abs(value - reference) / max(abs(reference), floor)
}
