import Foundation
import NodeCore
import Testing

@testable import NodeNN

/// A convolution's output for a sample and its input cotangent are bitwise
/// the same whatever else is in the batch and wherever the block boundaries
/// fall — the property per-sample adaptive solves rely on.
@Suite struct ConvolutionBatchInvarianceTests {
  @Test(arguments: [(3, 3, 1), (4, 4, 2)])
  func sampleResultsDoNotDependOnTheBatch(kernel: Int, side: Int, stride: Int) {
    let g = ConvolutionGeometry(
      inputChannels: 5, outputChannels: 7, kernel: (kernel, kernel), stride: stride, padding: 1,
      input: (6 * side / 2, 6 * side / 2))
    let layer = Conv2d<Float>(g)
    let rows = 40  // several blocks of the layer's column budget for large maps
    let x = (0..<(rows * g.inputSize)).map { Float(sin(Double($0) * 0.37)) }
    let dy = (0..<(rows * g.outputSize)).map { Float(cos(Double($0) * 0.23)) }
    let p = (0..<layer.parameterCount).map { Float(sin(Double($0) * 1.7)) * 0.3 }
    let t = [Float](repeating: 0, count: rows)
    func run(_ samples: Range<Int>) -> (y: [Float], dx: [Float]) {
      let n = samples.count
      var y = [Float](repeating: 0, count: n * g.outputSize)
      var dx = [Float](repeating: 0, count: n * g.inputSize)
      let xs = Array(x[(samples.lowerBound * g.inputSize)..<(samples.upperBound * g.inputSize)])
      let dys = Array(dy[(samples.lowerBound * g.outputSize)..<(samples.upperBound * g.outputSize)])
      xs.withUnsafeBufferPointer { xp in
        y.withUnsafeMutableBufferPointer { yp in
          layer.forward(
            MatrixView(base: xp.baseAddress!, rows: n, columns: g.inputSize), times: t,
            parameters: p,
            into: MutableMatrixView(base: yp.baseAddress!, rows: n, columns: g.outputSize))
        }
        dys.withUnsafeBufferPointer { dyp in
          y.withUnsafeBufferPointer { yp in
            dx.withUnsafeMutableBufferPointer { dxp in
              layer.backward(
                MatrixView(base: xp.baseAddress!, rows: n, columns: g.inputSize),
                output: MatrixView(base: yp.baseAddress!, rows: n, columns: g.outputSize), times: t,
                parameters: p,
                outputCotangent: MatrixView(base: dyp.baseAddress!, rows: n, columns: g.outputSize),
                inputCotangent: MutableMatrixView(
                  base: dxp.baseAddress!, rows: n, columns: g.inputSize),
                timeCotangents: nil, parameterGradient: nil, rowWeights: nil)
            }
          }
        }
      }
      return (y, dx)
    }
    let whole = run(0..<rows)
    for s in [0, 17, rows - 1] {
      let alone = run(s..<(s + 1))
      #expect(alone.y == Array(whole.y[(s * g.outputSize)..<((s + 1) * g.outputSize)]))
      #expect(alone.dx == Array(whole.dx[(s * g.inputSize)..<((s + 1) * g.inputSize)]))
    }
  }
}
