import NodeCore
import Testing

@Suite struct PhiloxTests {
  /// Random123's known-answer vectors for philox4x32-10 (tests/kat_vectors).
  @Test(
    arguments: [
      ([0, 0, 0, 0], [0, 0], [0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8]),
      (
        [0xffff_ffff, 0xffff_ffff, 0xffff_ffff, 0xffff_ffff], [0xffff_ffff, 0xffff_ffff],
        [0x408f_276d, 0x41c8_3b0e, 0xa20b_c7c6, 0x6d54_51fd]
      ),
      (
        [0x243f_6a88, 0x85a3_08d3, 0x1319_8a2e, 0x0370_7344], [0xa409_3822, 0x299f_31d0],
        [0xd16c_fe09, 0x94fd_cceb, 0x5001_e420, 0x2412_6ea1]
      ),
    ] as [([UInt32], [UInt32], [UInt32])])
  func knownAnswers(counter: [UInt32], key: [UInt32], expected: [UInt32]) {
    let out = Philox4x32.block(counter: SIMD4(counter), key: SIMD2(key))
    #expect([out.x, out.y, out.z, out.w] == expected)
  }
}

@Suite struct CounterRandomTests {
  let rng = CounterRandom(seed: 0x1234_5678_9abc_def0)

  @Test func drawsAreAddressable() {
    var buffer = [Float](repeating: 0, count: 37)
    buffer.withUnsafeMutableBufferPointer { rng.fillNormal($0, stream: 7, start: 5) }
    for (i, value) in buffer.enumerated() {
      #expect(value == rng.normal(stream: 7, index: UInt64(5 + i), as: Float.self))
    }
    var uniforms = [Double](repeating: 0, count: 9)
    uniforms.withUnsafeMutableBufferPointer { rng.fillUniform($0, stream: 1, start: 3) }
    #expect(uniforms[4] == rng.uniform(stream: 1, index: 7, as: Double.self))
    var signs = [Float](repeating: 0, count: 300)
    signs.withUnsafeMutableBufferPointer { rng.fillRademacher($0, stream: 2, start: 100) }
    #expect(signs[250] == rng.rademacher(stream: 2, index: 350, as: Float.self))
  }

  @Test func streamsAndSeedsDiffer() {
    let a = rng.uniform(stream: 0, index: 0, as: Double.self)
    #expect(a != rng.uniform(stream: 1, index: 0, as: Double.self))
    #expect(a != CounterRandom(seed: 1).uniform(stream: 0, index: 0, as: Double.self))
    #expect(a == CounterRandom(seed: rng.seed).uniform(stream: 0, index: 0, as: Double.self))
  }

  @Test func floatNormalsAreRoundedDoubleNormals() {
    for i in 0..<100 as Range<UInt64> {
      #expect(
        rng.normal(stream: 3, index: i, as: Float.self)
          == Float(rng.normal(stream: 3, index: i, as: Double.self)))
    }
  }

  @Test func distributionsHaveTheRightMoments() {
    let n = 200_000
    var uniforms = [Float](repeating: 0, count: n)
    var normals = [Double](repeating: 0, count: n)
    var signs = [Float](repeating: 0, count: n)
    uniforms.withUnsafeMutableBufferPointer { rng.fillUniform($0, stream: 11) }
    normals.withUnsafeMutableBufferPointer { rng.fillNormal($0, stream: 12) }
    signs.withUnsafeMutableBufferPointer { rng.fillRademacher($0, stream: 13) }
    #expect(uniforms.allSatisfy { $0 > 0 && $0 < 1 })
    let uniformMean = uniforms.reduce(0.0) { $0 + Double($1) } / Double(n)
    #expect(abs(uniformMean - 0.5) < 0.005)
    let mean = normals.reduce(0, +) / Double(n)
    let variance = normals.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(n)
    let fourth = normals.reduce(0) { $0 + pow4($1) } / Double(n)
    #expect(abs(mean) < 0.01)
    #expect(abs(variance - 1) < 0.02)
    #expect(abs(fourth - 3) < 0.1)
    #expect(Set(signs) == [-1, 1])
    #expect(abs(signs.reduce(0, +) / Float(n)) < 0.01)
  }

  private func pow4(_ x: Double) -> Double { x * x * x * x }
}
