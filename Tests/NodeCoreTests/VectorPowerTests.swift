import Foundation
import NodeCore
import Testing

/// `VectorMath.positivePower` (the step-size controller's `ratio^exponent`)
/// against `pow` in Double, and the same bits for a value wherever it sits.
@Suite struct VectorPowerTests {
  static func power(_ x: [Float], _ e: Float) -> [Float] {
    var y = [Float](repeating: .nan, count: x.count)
    x.withUnsafeBufferPointer { xp in
      y.withUnsafeMutableBufferPointer {
        VectorMath.positivePower(
          xp.baseAddress!, exponent: e, into: $0.baseAddress!, count: x.count)
      }
    }
    return y
  }

  /// Log-uniform values over 1e-30 … 1e30 and the controllers' exponents:
  /// within `5e-7 + 1e-7 |e log₂ x|` relative of the exact power (the second
  /// part the rounding of `e log₂ x` itself) whenever it is a normal float.
  @Test(arguments: [-0.2, -0.25, -1.0 / 8, -1.0 / 9, 0.5, 1.0 / 3, 1] as [Float])
  func closeToThePowerInDouble(exponent: Float) {
    let x = (0..<1003).map { Float(pow(10.0, -30 + 60 * Double($0) / 1002)) } + [1, 2, 0.5, 1e-4]
    let y = Self.power(x, exponent)
    var worst = 0.0
    for (xi, yi) in zip(x, y) {
      let exact = pow(Double(xi), Double(exponent))
      guard exact > Double(Float.leastNormalMagnitude), exact < 1e38 else { continue }
      let bound = 5e-7 + 1e-7 * abs(Double(exponent) * log2(Double(xi)))
      worst = max(worst, abs(Double(yi) - exact) / exact / bound)
    }
    #expect(worst < 1, "worst error \(worst) of its bound for exponent \(exponent)")
  }

  /// The result for a value does not depend on its neighbours or on whether it
  /// falls in the masked tail; values below the smallest normal count as it.
  @Test func aValuesResultDoesNotDependOnItsPlace() {
    let values: [Float] = [0.37, 1e-9, 12.5, 0.999, 1.0001]
    for (i, v) in values.enumerated() {
      let alone = Self.power([v], -0.2)[0]
      for count in [3, 8, 11, 16] {
        for place in [0, count - 1] {
          var x = (0..<count).map { Float($0 + i) * 0.1 + 0.05 }
          x[place] = v
          #expect(Self.power(x, -0.2)[place].bitPattern == alone.bitPattern)
        }
      }
    }
    let floor = Self.power([Float.leastNormalMagnitude], -0.2)[0]
    #expect(Self.power([0, 1e-42], -0.2) == [floor, floor])
    #expect(floor.isFinite && floor > 3e7)
  }
}
