import Foundation
import NodeCore
import NodeData
import NodeNN
import NodeSensitivity
import NodeSolvers
import Testing

@testable import NodeModels

@Suite struct ODENetTests {
  @Test func hasTheReferenceShapeAndNames() throws {
    let model = try ODENetClassifier<Float>()
    #expect(model.down.outputSize == 64 * 36)
    #expect(model.ode.dimension == 64 * 36)
    #expect(model.head.outputSize == 10)
    // About 0.21 M parameters (WORKLOADS.md).
    #expect(model.parameterCount == 208_266)
    let names =
      model.down.namedParameters.map(\.name) + model.ode.network.namedParameters.map(\.name)
    #expect(names.contains("down.conv2.weight") && names.contains("ode.conv1.weight"))
    #expect(
      model.ode.network.namedParameters.first { $0.name == "ode.conv1.weight" }?.shape == [
        64, 65, 3, 3,
      ])
  }

  /// The reference weights classify the first test images as well as the reference did.
  @Test(.enabled(if: ReferenceWeights.available("w2-trained")))
  func trainedWeightsClassifyFashionMNIST() throws {
    let url = ReferenceWeights.url("w2-trained")
    let test = try ImageDataset.fashionMNIST(split: .test)
    let model = try ODENetClassifier<Float>()
    try model.load(SafetensorsFile(contentsOf: url))
    let integrator = try ODEIntegrator<Float>(
      method: .dormandPrince,
      controller: .adaptive(PIController(relativeTolerance: 1e-3, absoluteTolerance: 1e-3)))
    let indices = Array(0..<32)
    let images: Tensor<Float> = test.batch(indices: indices)
    let (logits, statistics) = try model.logits(
      images.reshaped([32, 784]), integrator: integrator)
    var correct = 0
    for (row, label) in test.labels(at: indices).enumerated() {
      let scores = Array(logits.row(row))
      if scores.indices.max(by: { scores[$0] < scores[$1] }) == label { correct += 1 }
    }
    print("W2 trained: \(correct)/32 correct, NFE mean \(statistics.meanFunctionEvaluations)")
    #expect(statistics.allSucceeded)
    // The whole test set is `node-dist eval w2` (BENCHMARKS.md); in a debug build
    // 32 images must do: ≥ 22 (69 %) is far above chance and below the 83.7 % average.
    #expect(correct >= 22)
  }

  /// The ODE block's VJP through the real layers against finite differences (Double, width 4).
  @Test func odeBlockGradientMatchesFiniteDifferences() throws {
    let model = try ODENetClassifier<Double>(width: 4)
    let random = CounterRandom(seed: 9)
    model.ode.parameters = (0..<model.ode.parameterCount).map {
      0.5 * random.normal(stream: 1, index: UInt64($0), as: Double.self) + ($0 % 7 == 0 ? 1 : 0)
    }
    let d = model.ode.dimension
    let z = (0..<(2 * d)).map { random.normal(stream: 2, index: UInt64($0), as: Double.self) }
    let a = (0..<(2 * d)).map { random.normal(stream: 3, index: UInt64($0), as: Double.self) }
    let t = [0.3, 0.8]
    func objective(_ p: [Double]) -> Double {
      model.ode.parameters = p
      var f = [Double](repeating: 0, count: 2 * d)
      z.withUnsafeBufferPointer { zp in
        f.withUnsafeMutableBufferPointer { fp in
          model.ode.evaluate(
            FieldBatch(
              count: 2, times: t, states: MatrixView(base: zp.baseAddress!, rows: 2, columns: d),
              sampleIndices: [0, 1]),
            into: MutableMatrixView(base: fp.baseAddress!, rows: 2, columns: d))
        }
      }
      return zip(f, a).reduce(0) { $0 + $1.0 * $1.1 }
    }
    let p = model.ode.parameters
    var gradient = [Double](repeating: 0, count: p.count)
    z.withUnsafeBufferPointer { zp in
      a.withUnsafeBufferPointer { ap in
        gradient.withUnsafeMutableBufferPointer { gp in
          model.ode.vectorJacobianProduct(
            FieldBatch(
              count: 2, times: t, states: MatrixView(base: zp.baseAddress!, rows: 2, columns: d),
              sampleIndices: [0, 1]),
            cotangents: MatrixView(base: ap.baseAddress!, rows: 2, columns: d),
            stateCotangents: nil,
            derivatives: nil, timeCotangents: nil,
            parameterGradient: ParameterGradientSink(gradient: gp.baseAddress!))
        }
      }
    }
    var worst = 0.0
    for j in stride(from: 0, to: p.count, by: 11) {
      var (up, down) = (p, p)
      up[j] += 1e-6
      down[j] -= 1e-6
      let fd = (objective(up) - objective(down)) / 2e-6
      worst = max(worst, abs(gradient[j] - fd) / max(abs(fd), 1e-2))
    }
    #expect(worst < 1e-5, "worst relative error \(worst)")
  }
}

@Suite struct ODENetGradientTests {
  /// The whole classifier's gradient (head, ODE block by backprop through a
  /// constant-step RK4 solve, downsampling) against finite differences.
  @Test func wholeModelGradientMatchesFiniteDifferences() throws {
    let model = try ODENetClassifier<Double>(width: 4)
    let random = CounterRandom(seed: 21)
    model.parameters = (0..<model.parameterCount).map {
      0.4 * random.normal(stream: 1, index: UInt64($0), as: Double.self)
    }
    let images = Tensor<Double>(
      shape: [2, 784],
      scalars: (0..<1568).map { random.uniform(stream: 2, index: UInt64($0), as: Double.self) })
    let labels = [3, 7]
    let solver = try ODEGradientSolver<Double>(
      mode: .backprop, method: .rk4, forward: .constant(stepSize: 0.25))
    let result = try model.gradient(images: images, labels: labels, solver: solver)
    let base = model.parameters
    func loss(_ p: [Double]) throws -> Double {
      model.parameters = p
      defer { model.parameters = base }
      return try model.gradient(images: images, labels: labels, solver: solver).loss
    }
    var worst = 0.0
    let h = 1e-5
    // Parameters of every part: downsampling, ODE block, head.
    let down = model.down.parameterCount
    let block = model.ode.parameterCount
    let picks =
      Array(stride(from: 0, to: down, by: 37)) + Array(stride(from: down, to: down + block, by: 29))
      + Array(stride(from: down + block, to: model.parameterCount, by: 5))
    for j in picks {
      var (up, downP) = (base, base)
      up[j] += h
      downP[j] -= h
      let fd = (try loss(up) - loss(downP)) / (2 * h)
      worst = max(worst, abs(result.gradient[j] - fd) / max(abs(fd), 1e-3))
    }
    #expect(result.loss.isFinite)
    #expect(worst < 1e-5, "worst relative error \(worst) over \(picks.count) parameters")
  }
}
