import NodeCore
import Testing

@testable import NodeNN

/// The branch-free same-size im2col/col2im against ConvolutionGeometry's general one.
@Suite struct SameSizeColumnsTests {
  static let geometries: [ConvolutionGeometry] = [
    ConvolutionGeometry(
      inputChannels: 3, outputChannels: 2, kernel: (3, 3), padding: 1, input: (6, 6)),
    ConvolutionGeometry(
      inputChannels: 2, outputChannels: 2, kernel: (5, 5), padding: 2, input: (4, 7)),
    ConvolutionGeometry(
      inputChannels: 4, outputChannels: 1, kernel: (1, 1), padding: 0, input: (3, 5)),
    ConvolutionGeometry(
      inputChannels: 1, outputChannels: 3, kernel: (3, 3), padding: 1, input: (1, 9)),
  ]

  @Test(arguments: geometries)
  func unfoldAndFoldMatchTheGeneralOnes(geometry g: ConvolutionGeometry) throws {
    let columns = try #require(SameSizeColumns<Float>(g))
    let random = CounterRandom(seed: 7)
    let x = (0..<g.inputSize).map { random.normal(stream: 0, index: UInt64($0), as: Float.self) }
    let ld = g.outputPixels + 3  // rows of a block of samples are wider than one sample's
    var expected = [Float](repeating: -1, count: g.patchSize * ld)
    var found = expected
    x.withUnsafeBufferPointer { xs in
      expected.withUnsafeMutableBufferPointer {
        g.unfold(xs.baseAddress!, into: $0.baseAddress!, rowStride: ld)
      }
      found.withUnsafeMutableBufferPointer {
        columns.unfold(xs.baseAddress!, into: $0.baseAddress!, rowStride: ld)
      }
    }
    #expect(found == expected)

    let bars = (0..<(g.patchSize * ld)).map {
      random.normal(stream: 1, index: UInt64($0), as: Float.self)
    }
    var general = [Float](repeating: 0, count: g.inputSize)
    var folded = [Float](repeating: .nan, count: g.inputSize)  // overwritten, not added to
    bars.withUnsafeBufferPointer { b in
      general.withUnsafeMutableBufferPointer {
        g.fold(b.baseAddress!, addingInto: $0.baseAddress!, rowStride: ld)
      }
      folded.withUnsafeMutableBufferPointer {
        columns.fold(b.baseAddress!, rowStride: ld, into: $0.baseAddress!)
      }
    }
    #expect(folded == general)
  }

  /// A fold of another sample's non-finite cotangents leaves values in the
  /// plane buffer's margins; the next unfold must not carry them into a
  /// finite sample's border taps (NaN times a zero mask is NaN).
  @Test func aFoldedNaNDoesNotReachTheNextSample() throws {
    func check<S: TensorScalar>(_: S.Type) throws {
      let g = Self.geometries[0]
      let columns = try #require(SameSizeColumns<S>(g))
      let ld = g.outputPixels
      let poisoned = [S](repeating: .nan, count: g.patchSize * ld)
      var sink = [S](repeating: 0, count: g.inputSize)
      poisoned.withUnsafeBufferPointer { p in
        sink.withUnsafeMutableBufferPointer {
          columns.fold(p.baseAddress!, rowStride: ld, into: $0.baseAddress!)
        }
      }
      let x = (0..<g.inputSize).map { S(Double($0) * 0.1) }
      var expected = [S](repeating: -1, count: g.patchSize * ld)
      var found = expected
      x.withUnsafeBufferPointer { xs in
        expected.withUnsafeMutableBufferPointer { g.unfold(xs.baseAddress!, into: $0.baseAddress!) }
        found.withUnsafeMutableBufferPointer {
          columns.unfold(xs.baseAddress!, into: $0.baseAddress!, rowStride: ld)
        }
      }
      #expect(found == expected, "\(S.self)")
    }
    try check(Float.self)
    try check(Double.self)
  }

  @Test func otherGeometriesUseTheGeneralPath() {
    let strided = ConvolutionGeometry(
      inputChannels: 2, outputChannels: 2, kernel: (4, 4), stride: 2, padding: 1, input: (8, 8))
    let shrinking = ConvolutionGeometry(
      inputChannels: 2, outputChannels: 2, kernel: (3, 3), input: (8, 8))
    #expect(SameSizeColumns<Float>(strided) == nil)
    #expect(SameSizeColumns<Float>(shrinking) == nil)
  }
}
