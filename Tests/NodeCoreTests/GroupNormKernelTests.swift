import Foundation
import NodeCore
import Testing

/// The group-norm kernel gives, bit for bit, the portable passes' arithmetic:
/// mean and variance by ``VectorReduction`` (eight partial sums), `1/√(v + ε)`,
/// `x̂ = (x − m)·s` and `γ x̂ + β` as separate multiplies and adds.
@Suite struct GroupNormKernelTests {
  @Test(arguments: [(6, 3, 5), (64, 32, 36), (4, 1, 9), (2, 2, 1)])
  func matchesThePortableFormulas(channels: Int, groups: Int, pixels: Int) throws {
    try #require(GroupNormKernel.run(for: Float.self))
    let (rows, width) = (3, channels * pixels)
    let stride = width + 3
    let x = (0..<(rows * stride)).map { Float(sin(Double($0) * 0.7)) * 3 + Float($0 % 5) }
    let gamma = (0..<channels).map { Float(cos(Double($0))) }
    let beta = (0..<channels).map { Float($0) * 0.1 - 0.2 }
    let epsilon: Float = 1e-5
    var (hat, inverse) = (
      [Float](repeating: 9, count: rows * width), [Float](repeating: 9, count: rows * groups)
    )
    var y = [Float](repeating: 9, count: rows * stride)
    x.withUnsafeBufferPointer { xs in
      let view = MatrixView(base: xs.baseAddress!, rows: rows, columns: width, rowStride: stride)
      hat.withUnsafeMutableBufferPointer { h in
        inverse.withUnsafeMutableBufferPointer { i in
          GroupNormKernel.normalize(
            view, channels: channels, groups: groups, pixels: pixels, epsilon: epsilon, gamma: nil,
            beta: nil, into: nil, hat: h.baseAddress!, inverse: i.baseAddress!)
        }
      }
      y.withUnsafeMutableBufferPointer { out in
        GroupNormKernel.normalize(
          view, channels: channels, groups: groups, pixels: pixels, epsilon: epsilon,
          gamma: gamma, beta: beta,
          into: MutableMatrixView(
            base: out.baseAddress!, rows: rows, columns: width, rowStride: stride),
          hat: nil, inverse: nil)
      }
    }
    let size = channels / groups * pixels
    for r in 0..<rows {
      for g in 0..<groups {
        let start = r * stride + g * size
        let group = Array(x[start..<(start + size)])
        let (mean, variance) = group.withUnsafeBufferPointer { p -> (Float, Float) in
          let mean = VectorReduction.sum(p.baseAddress!, count: size) / Float(size)
          return (
            mean,
            VectorReduction.squaredDeviations(p.baseAddress!, count: size, from: mean) / Float(size)
          )
        }
        let scale = 1 / (variance + epsilon).squareRoot()
        #expect(inverse[r * groups + g].bitPattern == scale.bitPattern)
        for i in 0..<size {
          let expectedHat = (group[i] - mean) * scale
          let c = (g * size + i) / pixels
          let expectedY = gamma[c] * expectedHat + beta[c]
          #expect(hat[r * width + g * size + i].bitPattern == expectedHat.bitPattern)
          #expect(y[r * stride + g * size + i].bitPattern == expectedY.bitPattern)
        }
      }
      #expect(
        y[(r * stride + width)..<((r + 1) * stride)].allSatisfy { $0 == 9 }, "row padding untouched"
      )
    }
  }
}
