import Foundation
import NodeBench
import NodeCore
import NodeSolvers
import Testing

@Suite struct W3WorkloadTests {
  let workload: W3Workload

  init() throws {
    workload = try W3Workload(problem: #require(W3Workload.bundledProblemURL))
  }

  @Test func loadsTheReferenceProblem() {
    #expect(workload.initialStates.shape == [4096, 2])
    #expect(workload.field.layers.map(\.weight.shape) == [[64, 2], [64, 64], [2, 64]])
    #expect(workload.field.dimension == 2)
  }

  /// The field against a plain Double evaluation of the same network.
  @Test func fieldMatchesAReferenceMLP() throws {
    let field = workload.field
    let rows = 5
    let states = Array(workload.initialStates.scalars.prefix(rows * 2))
    var out = [Float](repeating: 0, count: rows * 2)
    let times = [Float](repeating: 0, count: rows)
    let samples = Array(0..<rows)
    states.withUnsafeBufferPointer { y in
      out.withUnsafeMutableBufferPointer { f in
        field.evaluate(
          FieldBatch(
            count: rows, times: times,
            states: MatrixView(base: y.baseAddress!, rows: rows, columns: 2), sampleIndices: samples
          ),
          into: MutableMatrixView(base: f.baseAddress!, rows: rows, columns: 2))
      }
    }
    for r in 0..<rows {
      var activation = [Double(states[2 * r]), Double(states[2 * r + 1])]
      for (layer, dense) in field.layers.enumerated() {
        let (w, b) = (dense.weight, dense.bias)
        activation = (0..<w.shape[0]).map { i in
          let sum = (0..<w.shape[1]).reduce(Double(b[i])) { $0 + Double(w[i, $1]) * activation[$1] }
          return layer < 2 ? tanh(sum) : sum
        }
      }
      for d in 0..<2 { #expect(abs(Double(out[2 * r + d]) - activation[d]) < 1e-5) }
    }
  }

  /// A W3 sample solved alone, inside the first 512, or in reverse order
  /// follows bitwise the same trajectory with the same statistics.
  @Test func solvesAreBatchInvariant() throws {
    let n = 512
    let first = Tensor<Float>(
      shape: [n, 2], scalars: Array(workload.initialStates.scalars.prefix(2 * n)))
    let reversed = Tensor<Float>(
      shape: [n, 2], scalars: (0..<n).reversed().flatMap { Array(first.row($0)) })
    let times = TimeGrid<Float>.shared([0, 0.5, 1])
    let together = try workload.integrator.solve(workload.field, initialStates: first, times: times)
    let backwards = try workload.integrator.solve(
      workload.field, initialStates: reversed, times: times)
    #expect(together.statistics.allSucceeded)
    for s in [0, 1, 5, 100, 255, 256, 511] {
      let alone = try workload.integrator.solve(
        workload.field, initialStates: Tensor(shape: [1, 2], scalars: Array(first.row(s))),
        times: times)
      for j in 0..<3 {
        #expect(
          alone.state(sample: 0, time: j).map(\.bitPattern)
            == together.state(sample: s, time: j).map(\.bitPattern))
        #expect(
          backwards.state(sample: n - 1 - s, time: j).map(\.bitPattern)
            == together.state(sample: s, time: j).map(\.bitPattern))
      }
      #expect(alone.statistics.functionEvaluations[0] == together.statistics.functionEvaluations[s])
    }
  }

  /// Per-sample steps evaluate each sample only as often as it needs: the mean
  /// work lies well below the hardest sample's, and every sample succeeds.
  @Test func perSampleWorkOnTheFullProblem() throws {
    let stats = try workload.solve().statistics
    #expect(stats.allSucceeded)
    #expect(stats.meanFunctionEvaluations < 0.75 * Double(stats.maxFunctionEvaluations))
    // dopri5 with FSAL: 2 evaluations to start, 6 per attempted step.
    for s in 0..<stats.count {
      #expect(
        stats.functionEvaluations[s] == 2 + 6 * (stats.acceptedSteps[s] + stats.rejectedSteps[s]))
    }
  }
}

/// A problem file whose layers do not chain, or whose field does not map
/// `R^D` to `R^D`, is refused with the tensor and the shapes it needed.
@Suite struct W3ProblemFileTests {
  /// Writes `layers.{i}.weight` of the given shapes (and fitting biases) and `y0` `[3, 2]`.
  func problemFile(weights shapes: [[Int]]) throws -> URL {
    var tensors: [String: Tensor<Float>] = ["y0": Tensor(shape: [3, 2])]
    for (i, shape) in shapes.enumerated() {
      tensors["layers.\(i).weight"] = Tensor(shape: shape)
      tensors["layers.\(i).bias"] = Tensor(shape: [shape[0]])
    }
    let url = FileManager.default.temporaryDirectory
      .appendingPathComponent("w3-problem-\(UUID().uuidString).safetensors")
    try SafetensorsWriter.write(tensors, to: url)
    return url
  }

  @Test(arguments: [
    // W1's first three concat-squash weights: the field would map R^2 to R^64.
    ([[64, 2], [64, 64], [64, 64]], "layers.2.weight", "[2, 64]"),
    // The second layer does not take the first one's 64 outputs.
    ([[64, 2], [64, 32], [2, 64]], "layers.1.weight", "[any, 64]"),
  ])
  func refusesShapesThatDoNotChain(weights: [[Int]], tensor: String, expected: String) throws {
    let url = try problemFile(weights: weights)
    defer { try? FileManager.default.removeItem(at: url) }
    let error = #expect(throws: SafetensorsError.self) { try W3Workload(problem: url) }
    let message = error?.description ?? ""
    #expect(message.contains("tensor '\(tensor)'"), "\(message)")
    #expect(message.contains("expected \(expected)"), "\(message)")
  }

  @Test func acceptsAnyWidthThatChains() throws {
    let url = try problemFile(weights: [[8, 2], [8, 8], [2, 8]])
    defer { try? FileManager.default.removeItem(at: url) }
    let workload = try W3Workload(problem: url)
    #expect(workload.field.layers.map(\.weight.shape) == [[8, 2], [8, 8], [2, 8]])
  }
}
