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

  /// A block of samples side by side (the AVX2 kernels in Float) against the
  /// general passes sample by sample: strided input rows, block rows wider
  /// than the block or exactly as wide, planes narrower than eight pixels;
  /// nothing outside the block's rows (and row padding) is written.
  @Test(
    arguments: geometries + [
      ConvolutionGeometry(
        inputChannels: 2, outputChannels: 1, kernel: (3, 3), padding: 1, input: (1, 3)),
      ConvolutionGeometry(  // eight pixels: no tail
        inputChannels: 3, outputChannels: 1, kernel: (3, 3), padding: 1, input: (2, 4)),
    ])
  func blocksMatchTheGeneralPassesSampleBySample(geometry g: ConvolutionGeometry) throws {
    let columns = try #require(SameSizeColumns<Float>(g))
    let random = CounterRandom(seed: 11)
    let (pixels, stride) = (g.outputPixels, g.inputSize + 5)
    for count in 1...5 {
      for ld in [count * pixels, count * pixels + 3, (count * pixels + 15) & ~15] {
        let x = (0..<(count * stride)).map {
          random.normal(stream: UInt64(count), index: UInt64($0), as: Float.self)
        }
        let sentinel: Float = 12345
        var expected = [Float](repeating: sentinel, count: g.patchSize * ld + 16)
        var found = expected
        x.withUnsafeBufferPointer { xs in
          expected.withUnsafeMutableBufferPointer { e in
            for s in 0..<count {
              g.unfold(
                xs.baseAddress! + s * stride, into: e.baseAddress! + s * pixels, rowStride: ld)
            }
          }
          found.withUnsafeMutableBufferPointer {
            let view = MatrixView(
              base: xs.baseAddress!, rows: count, columns: g.inputSize, rowStride: stride)
            columns.unfold(view, into: $0.baseAddress!, rowStride: ld)
          }
        }
        for row in 0..<g.patchSize {
          let used = (row * ld)..<(row * ld + count * pixels)
          #expect(
            Array(found[used]) == Array(expected[used]), "count \(count), ld \(ld), row \(row)")
        }
        let past = found[(g.patchSize * ld)...]
        #expect(past.allSatisfy { $0 == sentinel }, "past the block")

        let bars = (0..<(g.patchSize * ld)).map {
          random.normal(stream: 100 + UInt64(count), index: UInt64($0), as: Float.self)
        }
        var general = [Float](repeating: sentinel, count: count * stride)
        var folded = general
        bars.withUnsafeBufferPointer { b in
          general.withUnsafeMutableBufferPointer { e in
            for s in 0..<count {
              let target = e.baseAddress! + s * stride
              target.update(repeating: 0, count: g.inputSize)
              g.fold(b.baseAddress! + s * pixels, addingInto: target, rowStride: ld)
            }
          }
          folded.withUnsafeMutableBufferPointer {
            let view = MutableMatrixView(
              base: $0.baseAddress!, rows: count, columns: g.inputSize, rowStride: stride)
            columns.fold(b.baseAddress!, rowStride: ld, into: view)
          }
        }
        #expect(folded == general, "fold: count \(count), ld \(ld)")
      }
    }
  }

  /// In a block, a sample of NaN leaves its neighbours' columns and folded
  /// cotangents exactly as they are alone.
  @Test func aNonFiniteSampleDoesNotReachItsBlockMates() throws {
    let g = Self.geometries[0]
    let columns = try #require(SameSizeColumns<Float>(g))
    let pixels = g.outputPixels
    let healthy = (0..<g.inputSize).map { Float($0 % 7) - 3 }
    let x =
      [Float](repeating: .nan, count: g.inputSize) + healthy
      + [Float](repeating: .infinity, count: g.inputSize)
    let ld = 3 * pixels
    var block = [Float](repeating: 0, count: g.patchSize * ld)
    var alone = [Float](repeating: 0, count: g.patchSize * pixels)
    x.withUnsafeBufferPointer { xs in
      block.withUnsafeMutableBufferPointer {
        columns.unfold(
          MatrixView(base: xs.baseAddress!, rows: 3, columns: g.inputSize), into: $0.baseAddress!,
          rowStride: ld)
      }
      alone.withUnsafeMutableBufferPointer {
        columns.unfold(
          MatrixView(base: xs.baseAddress! + g.inputSize, rows: 1, columns: g.inputSize),
          into: $0.baseAddress!, rowStride: pixels)
      }
    }
    for row in 0..<g.patchSize {
      #expect(
        Array(block[(row * ld + pixels)..<(row * ld + 2 * pixels)])
          == Array(alone[(row * pixels)..<((row + 1) * pixels)]))
    }

    var bars = [Float](repeating: .nan, count: g.patchSize * ld)
    var barsAlone = [Float](repeating: 0, count: g.patchSize * pixels)
    for row in 0..<g.patchSize {
      for p in 0..<pixels {
        let value = Float((row * pixels + p) % 11) - 5
        bars[row * ld + pixels + p] = value
        barsAlone[row * pixels + p] = value
      }
    }
    var folded = [Float](repeating: 0, count: 3 * g.inputSize)
    var foldedAlone = [Float](repeating: 0, count: g.inputSize)
    bars.withUnsafeBufferPointer { b in
      folded.withUnsafeMutableBufferPointer {
        columns.fold(
          b.baseAddress!, rowStride: ld,
          into: MutableMatrixView(base: $0.baseAddress!, rows: 3, columns: g.inputSize))
      }
    }
    barsAlone.withUnsafeBufferPointer { b in
      foldedAlone.withUnsafeMutableBufferPointer {
        columns.fold(
          b.baseAddress!, rowStride: pixels,
          into: MutableMatrixView(base: $0.baseAddress!, rows: 1, columns: g.inputSize))
      }
    }
    #expect(Array(folded[g.inputSize..<(2 * g.inputSize)]) == foldedAlone)
    #expect(foldedAlone.allSatisfy { $0.isFinite })
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
