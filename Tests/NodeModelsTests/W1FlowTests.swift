import Foundation
import NodeCore
import NodeData
import NodeNN
import NodeSensitivity
import NodeSolvers
import Testing

@testable import NodeModels

/// The W1 flow: its exact-trace dynamics, their hand-derived adjoint, and the
/// reference weights' likelihood on fresh moons.
@Suite struct W1FlowTests {
  /// The augmented dynamics `[f, −tr J]` and their VJP against finite differences.
  @Test func exactTraceDynamicsAndAdjointMatchFiniteDifferences() throws {
    let network: Sequential<Double> = W1Flow.network(width: 6)
    let random = CounterRandom(seed: 5)
    let parameters = (0..<network.parameterCount).map {
      0.7 * random.normal(stream: 1, index: UInt64($0), as: Double.self)
    }
    let field = CNFField(network: network, parameters: parameters)
    let n = 3
    let states = (0..<(n * 3)).map { random.normal(stream: 2, index: UInt64($0), as: Double.self) }
    let times = [0.1, 0.3, 0.45]
    let cotangents = (0..<(n * 3)).map {
      random.normal(stream: 3, index: UInt64($0), as: Double.self)
    }
    let ids = Array(0..<n)
    func evaluate(_ z: [Double], _ t: [Double], _ p: [Double]) -> [Double] {
      field.parameters = p
      var out = [Double](repeating: 0, count: n * 3)
      z.withUnsafeBufferPointer { zp in
        out.withUnsafeMutableBufferPointer { op in
          field.evaluate(
            FieldBatch(
              count: n, times: t, states: MatrixView(base: zp.baseAddress!, rows: n, columns: 3),
              sampleIndices: ids),
            into: MutableMatrixView(base: op.baseAddress!, rows: n, columns: 3))
        }
      }
      field.parameters = parameters
      return out
    }
    // The trace against the finite-difference Jacobian of f.
    let h = 1e-5
    let base = evaluate(states, times, parameters)
    for r in 0..<n {
      var trace = 0.0
      for k in 0..<2 {
        var (up, down) = (states, states)
        up[r * 3 + k] += h
        down[r * 3 + k] -= h
        trace +=
          (evaluate(up, times, parameters)[r * 3 + k] - evaluate(down, times, parameters)[r * 3 + k])
          / (2 * h)
      }
      #expect(abs(-trace - base[r * 3 + 2]) < 1e-8)
    }
    // The VJP (state, time, weighted parameters) against differences of aᵀ f.
    let weights = [0.5, 2, -1]
    var stateBar = [Double](repeating: 0, count: n * 3)
    var timeBar = [Double](repeating: 0, count: n)
    var parameterBar = [Double](repeating: 0, count: parameters.count)
    states.withUnsafeBufferPointer { zp in
      cotangents.withUnsafeBufferPointer { ap in
        stateBar.withUnsafeMutableBufferPointer { sp in
          parameterBar.withUnsafeMutableBufferPointer { gp in
            weights.withUnsafeBufferPointer { wp in
              field.vectorJacobianProduct(
                FieldBatch(
                  count: n, times: times,
                  states: MatrixView(base: zp.baseAddress!, rows: n, columns: 3),
                  sampleIndices: ids),
                cotangents: MatrixView(base: ap.baseAddress!, rows: n, columns: 3),
                stateCotangents: MutableMatrixView(base: sp.baseAddress!, rows: n, columns: 3),
                derivatives: nil, timeCotangents: &timeBar,
                parameterGradient: ParameterGradientSink(
                  gradient: gp.baseAddress!, rowWeights: wp.baseAddress!))
            }
          }
        }
      }
    }
    func objective(_ z: [Double], _ t: [Double], _ p: [Double], weighted: Bool) -> Double {
      let f = evaluate(z, t, p)
      var sum = 0.0
      for r in 0..<n {
        for i in 0..<3 { sum += (weighted ? weights[r] : 1) * cotangents[r * 3 + i] * f[r * 3 + i] }
      }
      return sum
    }
    var worst = 0.0
    func compare(_ value: Double, _ f: (Double) -> Double) {
      let fd = (-f(2e-4) + 8 * f(1e-4) - 8 * f(-1e-4) + f(-2e-4)) / 12e-4
      worst = max(worst, abs(value - fd) / max(abs(fd), 1e-3))
    }
    for i in 0..<(n * 3) {
      compare(stateBar[i]) { s in
        var z = states
        z[i] += s
        return objective(z, times, parameters, weighted: false)
      }
    }
    for r in 0..<n {
      compare(timeBar[r]) { s in
        var t = times
        t[r] += s
        return objective(states, t, parameters, weighted: false)
      }
    }
    for j in stride(from: 0, to: parameters.count, by: 3) {
      compare(parameterBar[j]) { s in
        var p = parameters
        p[j] += s
        return objective(states, times, p, weighted: true)
      }
    }
    #expect(worst < 1e-7, "worst relative error \(worst)")
  }

  /// The reference weights (trained by torchdiffeq, NLL 2.416 at 1e-5) on fresh moons.
  @Test(.enabled(if: ReferenceWeights.available("w1-trained")))
  func trainedWeightsGiveTheReferenceLikelihood() throws {
    let url = ReferenceWeights.url("w1-trained")
    let field: CNFField<Float> = try W1Flow.field(weights: url)
    let density = try CNFDensity(
      field: field, endTime: 0.5, relativeTolerance: 1e-5, absoluteTolerance: 1e-5)
    let data: Tensor<Float> = try ToyDensity.moons.sample(count: 2000, seed: 17, offset: 0)
    let (values, statistics) = try density.logLikelihoods(data)
    let nll = -Double(values.reduce(0, +)) / Double(values.count)
    print(
      "W1 trained: NLL \(nll) nats on 2000 moons, NFE mean \(statistics.meanFunctionEvaluations)")
    #expect(statistics.allSucceeded)
    #expect(abs(nll - 2.42) < 0.1)
  }

  @Test func weightFilesWithWrongTensorsAreRefused() throws {
    let network: Sequential<Float> = W1Flow.network()
    var tensors = network.tensors(of: [Float](repeating: 0, count: network.parameterCount))
    tensors["layers.1.weight"] = Tensor(shape: [64, 63])
    let file = try SafetensorsFile(
      bytes: SafetensorsWriter.encode(tensors), source: "bad.safetensors")
    #expect(
      throws: SafetensorsError.shapeMismatch(
        source: "bad.safetensors", tensor: "layers.1.weight", expected: [64, 64], found: [64, 63])
    ) {
      try network.parameters(from: file)
    }
    tensors["layers.1.weight"] = Tensor(shape: [64, 64])
    tensors["layers.4.weight"] = Tensor(shape: [1])
    let extra = try SafetensorsFile(
      bytes: SafetensorsWriter.encode(tensors), source: "extra.safetensors")
    let error = #expect(throws: SafetensorsError.self) { try network.parameters(from: extra) }
    #expect(error?.description.contains("'layers.4.weight'") == true)
  }
}
