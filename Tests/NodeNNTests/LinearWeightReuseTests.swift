import NodeCore
import Testing

@testable import NodeNN

/// `Linear` keeps `Wᵀ` between calls: a weight changed in place, at the same
/// address, must still give the new layer's outputs and products.
@Suite struct LinearWeightReuseTests {
  @Test func weightChangedInPlaceIsSeen() {
    let (inputs, outputs, rows) = (5, 9, 3)
    let random = CounterRandom(seed: 4)
    let count = inputs * outputs + outputs
    var parameters = (0..<count).map { random.normal(stream: 0, index: UInt64($0), as: Float.self) }
    let x = (0..<(rows * inputs)).map {
      random.normal(stream: 1, index: UInt64($0), as: Float.self)
    }
    let dy = (0..<(rows * outputs)).map {
      random.normal(stream: 2, index: UInt64($0), as: Float.self)
    }
    let times = [Float](repeating: 0, count: rows)
    let reused = Linear<Float>(inputs: inputs, outputs: outputs)
    func run(_ layer: Linear<Float>, _ p: UnsafePointer<Float>) -> ([Float], [Float]) {
      var y = [Float](repeating: 0, count: rows * outputs)
      var dx = [Float](repeating: 0, count: rows * inputs)
      x.withUnsafeBufferPointer { xs in
        let view = MatrixView(base: xs.baseAddress!, rows: rows, columns: inputs)
        y.withUnsafeMutableBufferPointer { ys in
          layer.forward(
            view, times: times, parameters: p,
            into: MutableMatrixView(base: ys.baseAddress!, rows: rows, columns: outputs))
        }
        y.withUnsafeBufferPointer { ys in
          dy.withUnsafeBufferPointer { g in
            dx.withUnsafeMutableBufferPointer { d in
              layer.backward(
                view, output: MatrixView(base: ys.baseAddress!, rows: rows, columns: outputs),
                times: times, parameters: p,
                outputCotangent: MatrixView(base: g.baseAddress!, rows: rows, columns: outputs),
                inputCotangent: MutableMatrixView(
                  base: d.baseAddress!, rows: rows, columns: inputs),
                timeCotangents: nil, parameterGradient: nil, rowWeights: nil)
            }
          }
        }
      }
      return (y, dx)
    }
    parameters.withUnsafeMutableBufferPointer { p in
      _ = run(reused, p.baseAddress!)
      p[7] += 0.5  // one weight entry, same buffer
      let again = run(reused, p.baseAddress!)
      let fresh = run(Linear<Float>(inputs: inputs, outputs: outputs), p.baseAddress!)
      #expect(again.0 == fresh.0)
      #expect(again.1 == fresh.1)
    }
  }
}
