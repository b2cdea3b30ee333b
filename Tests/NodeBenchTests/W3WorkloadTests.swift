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
}
