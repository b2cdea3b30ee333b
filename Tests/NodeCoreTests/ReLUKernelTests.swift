import Foundation
import NodeCore
import Testing

/// The ReLU kernels give, bit for bit, the scalar formulas `x > 0 ? x : 0`
/// and `dy · (x > 0 ? 1 : 0)` — at zeros of both signs, infinities and NaN,
/// and across the masked tail.
@Suite struct ReLUKernelTests {
  static let inputs: [Float] =
    [0, -0.0, 1e-30, -1e-30, 2.5, -2.5, .infinity, -.infinity, .nan, .greatestFiniteMagnitude]
    + (0..<21).map { Float(sin(Double($0))) }

  @Test func forwardIsTheScalarFormula() {
    let x = Self.inputs
    var y = [Float](repeating: 7, count: x.count)
    x.withUnsafeBufferPointer { xp in
      y.withUnsafeMutableBufferPointer {
        VectorMath.relu(xp.baseAddress!, into: $0.baseAddress!, count: x.count)
      }
    }
    #expect(y.map(\.bitPattern) == x.map { ($0 > 0 ? $0 : 0).bitPattern })
  }

  @Test func backwardIsTheScalarFormula() {
    let x = Self.inputs
    let dy = x.indices.map { i -> Float in i % 7 == 3 ? .infinity : Float(cos(Double(i))) }
    var dx = [Float](repeating: 7, count: x.count)
    x.withUnsafeBufferPointer { xp in
      dy.withUnsafeBufferPointer { dyp in
        dx.withUnsafeMutableBufferPointer {
          VectorMath.reluBackward(
            input: xp.baseAddress!, outputCotangent: dyp.baseAddress!, into: $0.baseAddress!,
            count: x.count)
        }
      }
    }
    let expected = zip(x, dy).map { x, dy in dy * (x > 0 ? 1 : 0) }
    #expect(dx.map(\.bitPattern) == expected.map(\.bitPattern))
  }
}
