import Foundation
import NodeCore
import Testing

/// `Elementwise.linearCombination` gives, bit for bit, what the passes it
/// replaces give (`scale`, then `axpy` per further term, then `addScaled`):
/// for one to seven terms, with and without a base, for lengths that leave
/// every tail of the sixteen- and eight-wide blocks, through NaN and
/// infinities, and without writing past the end.
@Suite struct LinearCombinationTests {
  /// `termCount` arrays of `length` values, with a NaN and an infinity among them.
  static func terms(_ termCount: Int, length: Int) -> [[Float]] {
    (0..<termCount).map { t in
      (0..<length).map { i in
        if t == 1 && i == 5 { return .nan }
        if t == 2 && i == 17 { return -.infinity }
        return Float(sin(Double(7 * i + 3 * t + 1))) * Float(t + 1)
      }
    }
  }

  /// The combination by the separate passes.
  static func byPasses(
    weights: [Float], terms: [[Float]], length: Int, base: ([Float], [Float])?
  ) -> [Float] {
    var out = [Float](repeating: 0, count: length)
    out.withUnsafeMutableBufferPointer { o in
      terms[0].withUnsafeBufferPointer {
        Elementwise.scale($0.baseAddress!, by: weights[0], into: o.baseAddress!, count: length)
      }
      for t in 1..<terms.count {
        terms[t].withUnsafeBufferPointer {
          Elementwise.axpy(weights[t], $0.baseAddress!, o.baseAddress!, count: length)
        }
      }
      if let (values, scales) = base {
        values.withUnsafeBufferPointer { v in
          scales.withUnsafeBufferPointer { s in
            Elementwise.addScaled(
              base: v.baseAddress!, scales: s.baseAddress!, o.baseAddress!, into: o.baseAddress!,
              count: length)
          }
        }
      }
    }
    return out
  }

  /// The combination in one call.
  static func inOnePass(
    weights: [Float], terms: [[Float]], length: Int, base: ([Float], [Float])?
  ) -> [Float] {
    // Copies the call reads through plain pointers, freed at the end.
    func copy(_ values: [Float]) -> UnsafePointer<Float> {
      let storage = UnsafeMutablePointer<Float>.allocate(capacity: max(values.count, 1))
      storage.initialize(from: values, count: values.count)
      return UnsafePointer(storage)
    }
    let termPointers = terms.map(copy)
    let weightPointer = copy(weights)
    let basePointers = base.map { (values: copy($0.0), scales: copy($0.1)) }
    defer {
      for pointer in termPointers + [weightPointer] {
        UnsafeMutablePointer(mutating: pointer).deallocate()
      }
      if let basePointers {
        UnsafeMutablePointer(mutating: basePointers.values).deallocate()
        UnsafeMutablePointer(mutating: basePointers.scales).deallocate()
      }
    }
    // One guard element past the end, which the call must leave alone.
    var out = [Float](repeating: 7, count: length + 1)
    termPointers.withUnsafeBufferPointer { p in
      out.withUnsafeMutableBufferPointer { o in
        Elementwise.linearCombination(
          weights: weightPointer, terms: p.baseAddress!, termCount: terms.count, count: length,
          base: basePointers, into: o.baseAddress!)
      }
    }
    #expect(out[length] == 7, "wrote past the end")
    return Array(out[..<length])
  }

  @Test(arguments: [1, 2, 3, 7], [1, 5, 8, 15, 16, 17, 24, 39])
  func onePassEqualsThePasses(termCount: Int, length: Int) {
    let terms = Self.terms(termCount, length: length)
    let weights: [Float] = (0..<termCount).map { t in
      let magnitude = Float(0.1 + 0.37 * Double(t))
      return t % 2 == 0 ? magnitude : -magnitude
    }
    let values: [Float] = (0..<length).map { Float(cos(Double($0))) }
    let scales: [Float] = (0..<length).map { Float(0.25 + 0.01 * Double($0 / 4)) }
    let bases: [([Float], [Float])?] = [nil, (values, scales)]
    for base in bases {
      let expected: [Float] = Self.byPasses(
        weights: weights, terms: terms, length: length, base: base)
      let found: [Float] = Self.inOnePass(
        weights: weights, terms: terms, length: length, base: base)
      #expect(found.map { $0.bitPattern } == expected.map { $0.bitPattern })
    }
  }
}
