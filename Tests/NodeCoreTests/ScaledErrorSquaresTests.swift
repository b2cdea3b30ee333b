import Foundation
import NodeCore
import Testing

/// `Elementwise.scaledErrorSquares` (the adaptive step's error terms) gives,
/// bit for bit, the scalar formula it documents — zero errors (also with
/// `atol = 0` at a zero state), non-finite new states and errors — for
/// lengths that leave every tail of its eight-wide blocks, in place too.
@Suite struct ScaledErrorSquaresTests {
  static func formula(
    _ e: [Float], _ h: [Float], _ y0: [Float], _ y1: [Float], rtol: Float, atol: Float
  ) -> [Float] {
    e.indices.map { i in
      let scale = atol + rtol * max(abs(y0[i]), abs(y1[i]))
      let error = h[i] * e[i]
      let scaled = error == 0 ? 0 : error / scale
      return y1[i].isFinite ? scaled * scaled : .nan
    }
  }

  @Test(arguments: [1, 7, 8, 9, 16, 23, 40])
  func matchesTheFormula(length: Int) {
    var e = [Float](repeating: 0, count: length)
    var h = e
    var y0 = e
    var y1 = e
    for i in 0..<length {
      let x = Double(i)
      e[i] = i % 9 == 4 ? 0 : i % 13 == 6 ? .nan : Float(sin(3 * x + 1) * 1e-3)
      h[i] = Float((0.05 + 0.01 * Double(i % 5)) * (i % 2 == 0 ? 1 : -1))
      y0[i] = i % 9 == 4 ? 0 : Float(2 * cos(x))
      y1[i] =
        i % 11 == 3 ? .infinity : i % 17 == 8 ? .nan : i % 9 == 4 ? 0 : Float(2 * cos(x + 0.1))
    }
    for (rtol, atol): (Float, Float) in [(1e-6, 1e-6), (1e-3, 0), (0, 1e-5)] {
      let expected = Self.formula(e, h, y0, y1, rtol: rtol, atol: atol)
      var out = [Float](repeating: 7, count: length + 3)
      var inPlace = e
      h.withUnsafeBufferPointer { hp in
        y0.withUnsafeBufferPointer { a in
          y1.withUnsafeBufferPointer { b in
            e.withUnsafeBufferPointer { ep in
              out.withUnsafeMutableBufferPointer {
                Elementwise.scaledErrorSquares(
                  count: length, errorSum: ep.baseAddress!, steps: hp.baseAddress!,
                  start: a.baseAddress!, end: b.baseAddress!, relativeTolerance: rtol,
                  absoluteTolerance: atol, into: $0.baseAddress!)
              }
            }
            inPlace.withUnsafeMutableBufferPointer {
              Elementwise.scaledErrorSquares(
                count: length, errorSum: $0.baseAddress!, steps: hp.baseAddress!,
                start: a.baseAddress!, end: b.baseAddress!, relativeTolerance: rtol,
                absoluteTolerance: atol, into: $0.baseAddress!)
            }
          }
        }
      }
      #expect(Array(out.prefix(length)).map(\.bitPattern) == expected.map(\.bitPattern))
      #expect(inPlace.map(\.bitPattern) == expected.map(\.bitPattern))
      #expect(out.suffix(3) == [7, 7, 7], "wrote past the end")
    }
  }
}
