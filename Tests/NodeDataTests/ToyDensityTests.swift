import Foundation
import NodeCore
import NodeData
import Testing

/// Points of a `[n, 2]` tensor as `Double` pairs.
private func points<Scalar: TensorScalar>(_ t: Tensor<Scalar>) -> [SIMD2<Double>] {
  (0..<t.shape[0]).map { SIMD2(Double(t[$0, 0]), Double(t[$0, 1])) }
}

private func mean(_ ps: [SIMD2<Double>]) -> SIMD2<Double> {
  ps.reduce(SIMD2(0, 0), +) / Double(ps.count)
}

private func norm(_ p: SIMD2<Double>) -> Double { (p * p).sum().squareRoot() }

/// `x` wrapped into `[-period/2, period/2)`.
private func wrapped(_ x: Double, period: Double) -> Double {
  x - period * (x / period + 0.5).rounded(.down)
}

@Suite struct ToySamplingTests {
  static let sampleCount = 20_000

  @Test(arguments: ToyDensity.allCases)
  func sameAddressSameBits(density: ToyDensity) throws {
    let a: Tensor<Float> = try density.sample(count: 100, seed: 42, offset: 7)
    let b: Tensor<Float> = try density.sample(count: 100, seed: 42, offset: 7)
    #expect(a.shape == [100, 2])
    #expect(a.isBitwiseIdentical(to: b))
    let other: Tensor<Float> = try density.sample(count: 100, seed: 43, offset: 7)
    #expect(a != other)
  }

  @Test(arguments: ToyDensity.allCases)
  func splitBatchesMatchTheWholeBatch(density: ToyDensity) throws {
    let whole: Tensor<Double> = try density.sample(count: 100, seed: 3, offset: 0)
    let first: Tensor<Double> = try density.sample(count: 50, seed: 3, offset: 0)
    let second: Tensor<Double> = try density.sample(count: 50, seed: 3, offset: 50)
    let joined = Tensor<Double>(shape: [100, 2], scalars: first.scalars + second.scalars)
    #expect(whole.isBitwiseIdentical(to: joined))
    // Uneven splits too (odd offsets cross Philox block boundaries).
    let parts = try [0..<13, 13..<14, 14..<77, 77..<100].map { r -> Tensor<Double> in
      try density.sample(count: r.count, seed: 3, offset: r.lowerBound)
    }
    let rejoined = Tensor<Double>(shape: [100, 2], scalars: parts.flatMap(\.scalars))
    #expect(whole.isBitwiseIdentical(to: rejoined))
  }

  @Test(arguments: ToyDensity.allCases)
  func precisionsAndEntryPointsAgree(density: ToyDensity) throws {
    let double: Tensor<Double> = try density.sample(count: 64, seed: 9, offset: 1000)
    let float: Tensor<Float> = try density.sample(count: 64, seed: 9, offset: 1000)
    #expect(float.isBitwiseIdentical(to: double.converted(to: Float.self)))
    var filled = [Double](repeating: .nan, count: 128)
    try filled.withUnsafeMutableBufferPointer {
      try density.fill($0, seed: 9, offset: 1000)
    }
    #expect(filled == double.scalars)
    let p = density.point(seed: 9, index: 1005)
    #expect(double[5, 0] == p.x && double[5, 1] == p.y)
    let empty: Tensor<Float> = try density.sample(count: 0, seed: 9)
    #expect(empty.shape == [0, 2])
  }

  @Test(arguments: ToyDensity.allCases)
  func samplesAreFinite(density: ToyDensity) throws {
    let float: Tensor<Float> = try density.sample(count: Self.sampleCount, seed: 1)
    let double: Tensor<Double> = try density.sample(count: Self.sampleCount, seed: 1)
    #expect(float.scalars.allSatisfy { $0.isFinite })
    #expect(double.scalars.allSatisfy { $0.isFinite })
  }

  @Test func configNames() throws {
    #expect(
      ToyDensity.allCases.map(\.rawValue) == [
        "moons", "circles", "8gaussians", "pinwheel", "swissroll", "2spirals", "checkerboard",
        "rings",
      ])
    #expect(try ToyDensity(name: "8gaussians") == .eightGaussians)
    #expect(try ToyDensity(name: "2spirals") == .twoSpirals)
    #expect(
      throws: DataError.invalidOption(
        name: "toy density", value: "moon", allowed: ToyDensity.allowedNames)
    ) {
      try ToyDensity(name: "moon")
    }
  }

  @Test func badArgumentsAreRejected() throws {
    #expect(throws: DataError.invalidOption(name: "toy sample count", value: "-1", allowed: "≥ 0"))
    {
      let _: Tensor<Float> = try ToyDensity.moons.sample(count: -1, seed: 0)
    }
    #expect(throws: DataError.invalidOption(name: "toy sample offset", value: "-5", allowed: "≥ 0"))
    {
      let _: Tensor<Float> = try ToyDensity.moons.sample(count: 4, seed: 0, offset: -5)
    }
    #expect(throws: DataError.self) {
      let _: Tensor<Float> = try ToyDensity.rings.sample(count: 4, seed: 0, offset: Int.max)
    }
    #expect(throws: DataError.self) {
      let _: Tensor<Float> = try ToyDensity.rings.sample(
        count: 2, seed: 0, offset: ToyDensity.indexLimit - 1)
    }
    // The last valid index is fine.
    let last: Tensor<Float> = try ToyDensity.rings.sample(
      count: 1, seed: 0, offset: ToyDensity.indexLimit - 1)
    #expect(last.scalars.allSatisfy { $0.isFinite })
    var odd = [Float](repeating: 0, count: 5)
    #expect(
      throws: DataError.invalidOption(
        name: "toy buffer count", value: "5", allowed: "a multiple of 2")
    ) {
      try odd.withUnsafeMutableBufferPointer { try ToyDensity.moons.fill($0, seed: 0) }
    }
  }

  // MARK: Distributions

  /// W1: sklearn make_moons(noise 0.1) × 2 + (−1, −0.2). Undoing the affine
  /// map, every point is within noise of one of the two half circles.
  @Test func moons() throws {
    let ps = points(try ToyDensity.moons.sample(count: Self.sampleCount, seed: 11, as: Double.self))
    // E[outer] = (0, 2/π), E[inner] = (1, 1/2 − 2/π): mean (0.5, 0.25) → (0, 0.3).
    let m = mean(ps)
    #expect(abs(m.x) < 0.04 && abs(m.y - 0.3) < 0.04)
    var outer = 0
    var squaredNoise = 0.0
    for p in ps {
      let raw = (p - SIMD2(-1, -0.2)) / 2
      let dOuter =
        raw.y >= 0
        ? abs(norm(raw) - 1) : min(norm(raw - SIMD2(1, 0)), norm(raw - SIMD2(-1, 0)))
      let c = SIMD2(1.0, 0.5)
      let dInner =
        raw.y <= 0.5
        ? abs(norm(raw - c) - 1) : min(norm(raw - SIMD2(0, 0.5)), norm(raw - SIMD2(2, 0.5)))
      let d = min(dOuter, dInner)
      #expect(d < 0.6)  // 6 noise sds
      squaredNoise += d * d
      if dOuter < dInner { outer += 1 }
    }
    #expect(abs(Double(outer) / Double(ps.count) - 0.5) < 0.03)
    // The distance to the curve is at most the noise, whose norm² has mean 2 · 0.1².
    #expect(squaredNoise / Double(ps.count) < 0.02 && squaredNoise / Double(ps.count) > 0.005)
    #expect(ps.allSatisfy { abs($0.x) < 4.5 && $0.y > -2.5 && $0.y < 3.0 })
  }

  /// FFJORD: centres 4 · (unit vector) / 1.414, sd 0.5 / 1.414.
  @Test func eightGaussians() throws {
    let ps = points(
      try ToyDensity.eightGaussians.sample(count: Self.sampleCount, seed: 12, as: Double.self))
    let centres = (0..<8).map { k in
      4 / 1.414 * SIMD2(cos(Double(k) * .pi / 4), sin(Double(k) * .pi / 4))
    }
    var clusters = [[SIMD2<Double>]](repeating: [], count: 8)
    for p in ps {
      let k = (0..<8).min { norm(p - centres[$0]) < norm(p - centres[$1]) }!
      #expect(norm(p - centres[k]) < 2.2)  // 6.2 sds
      clusters[k].append(p)
    }
    for (k, cluster) in clusters.enumerated() {
      #expect(abs(Double(cluster.count) / Double(ps.count) - 0.125) < 0.015)
      #expect(norm(mean(cluster) - centres[k]) < 0.04)
      let variance =
        cluster.map { (($0 - centres[k]) * ($0 - centres[k])).sum() / 2 }
        .reduce(0, +) / Double(cluster.count)
      #expect(abs(variance.squareRoot() - 0.5 / 1.414) < 0.02)
    }
    #expect(abs(norm(centres[0]) - 2 * 2.0.squareRoot()) < 0.002)
  }

  /// Points only in the black squares `⌊x/2⌋ + ⌊y/2⌋` even of `[−4, 4]²`,
  /// spread evenly over the eight of them.
  @Test func checkerboard() throws {
    let ps = points(
      try ToyDensity.checkerboard.sample(count: Self.sampleCount, seed: 13, as: Double.self))
    var counts = [Int: Int]()
    for p in ps {
      #expect(p.x >= -4 && p.x <= 4 && p.y >= -4 && p.y <= 4)
      let i = Int((p.x / 2).rounded(.down))
      let j = Int((p.y / 2).rounded(.down))
      #expect((i + j) % 2 == 0)
      counts[(i + 2) * 4 + (j + 2), default: 0] += 1
    }
    #expect(counts.count == 8)
    for count in counts.values {
      #expect(abs(Double(count) / Double(ps.count) - 0.125) < 0.015)
    }
  }

  /// Rings of radii 3, 2.25, 1.5, 0.75 with noise sd 0.08 per coordinate.
  @Test func rings() throws {
    let ps = points(try ToyDensity.rings.sample(count: Self.sampleCount, seed: 14, as: Double.self))
    let radii = [0.75, 1.5, 2.25, 3.0]
    var members = [[Double]](repeating: [], count: 4)
    for p in ps {
      let r = norm(p)
      let k = (0..<4).min { abs(r - radii[$0]) < abs(r - radii[$1]) }!
      #expect(abs(r - radii[k]) < 0.45)  // 5.6 sds
      members[k].append(r)
    }
    for k in 0..<4 {
      #expect(abs(Double(members[k].count) / Double(ps.count) - 0.25) < 0.02)
      let meanRadius = members[k].reduce(0, +) / Double(members[k].count)
      #expect(abs(meanRadius - radii[k]) < 0.015)
    }
    #expect(norm(mean(ps)) < 0.05)
  }

  /// sklearn make_circles(factor 0.5, noise 0.08) × 3: radii 3 and 1.5.
  @Test func circles() throws {
    let ps = points(
      try ToyDensity.circles.sample(count: Self.sampleCount, seed: 15, as: Double.self))
    let outer = ps.map(norm).filter { $0 > 2.25 }
    let inner = ps.map(norm).filter { $0 <= 2.25 }
    #expect(abs(Double(outer.count) / Double(ps.count) - 0.5) < 0.03)
    #expect(abs(outer.reduce(0, +) / Double(outer.count) - 3) < 0.03)
    #expect(abs(inner.reduce(0, +) / Double(inner.count) - 1.5) < 0.04)
    #expect(norm(mean(ps)) < 0.05)
  }

  /// Five arms: undoing the angle `2πk/5 + 0.25 exp(radial)` leaves points
  /// near the arm directions.
  @Test func pinwheel() throws {
    let ps = points(
      try ToyDensity.pinwheel.sample(count: Self.sampleCount, seed: 16, as: Double.self))
    #expect(norm(mean(ps)) < 0.05)
    // |p| / 2 = |(1 + 0.3ε₁, 0.1ε₂)| ≈ 1.
    let halfRadius = ps.map { norm($0) / 2 }.reduce(0, +) / Double(ps.count)
    #expect(abs(halfRadius - 1.0) < 0.03)
    // The point is the features rotated by −angle, so −atan2 − 0.25 e^{r} ≈ 2πk/5.
    var near = 0
    var arms = [Int](repeating: 0, count: 5)
    for p in ps {
      let r = norm(p) / 2
      let residual = -atan2(p.y, p.x) - 0.25 * exp(r)
      let armWidth = 2 * Double.pi / 5
      if abs(wrapped(residual, period: armWidth)) < 0.4 { near += 1 }
      let k = Int((wrapped(residual, period: 2 * .pi) / armWidth).rounded()) % 5
      arms[(k + 5) % 5] += 1
    }
    #expect(Double(near) / Double(ps.count) > 0.95)
    for count in arms { #expect(abs(Double(count) / Double(ps.count) - 0.2) < 0.02) }
  }

  /// sklearn make_swiss_roll(noise 1)[:, [0, 2]] / 5: for t uniform on
  /// [1.5π, 4.5π], E[t cos t] = 2 and E[t sin t] = 2/(3π).
  @Test func swissroll() throws {
    let ps = points(
      try ToyDensity.swissroll.sample(count: Self.sampleCount, seed: 17, as: Double.self))
    let m = mean(ps)
    #expect(abs(m.x - 0.4) < 0.04 && abs(m.y - 2 / (3 * .pi) / 5) < 0.04)
    let radii = ps.map { norm($0 * 5) }
    let (low, high) = (1.5 * Double.pi - 6, 4.5 * Double.pi + 6)
    #expect(radii.allSatisfy { $0 > low && $0 < high })
    let meanRadius = radii.reduce(0, +) / Double(radii.count)
    #expect(abs(meanRadius - 3 * Double.pi) < 0.15)
  }

  /// Two spirals: 3p ≈ ±(−n cos n, n sin n), so angle(3p) + |3p| ≈ 0 mod π.
  @Test func twoSpirals() throws {
    let ps = points(
      try ToyDensity.twoSpirals.sample(count: Self.sampleCount, seed: 18, as: Double.self))
    #expect(norm(mean(ps)) < 0.05)
    #expect(ps.allSatisfy { norm($0) < (3 * .pi + 0.75) / 3 + 0.9 })
    let far = ps.filter { norm($0 * 3) > 4 }
    let onSpiral = far.filter { p in
      abs(wrapped(atan2(p.y, p.x) + norm(p * 3), period: .pi)) < 0.8
    }
    #expect(Double(onSpiral.count) / Double(far.count) > 0.9)
    #expect(far.count > ps.count / 2)
  }
}

@Suite struct TargetDensityTests {
  static let targets: [TargetDensity] = [.u1, .u2, .u3, .u4, .mixture(.eightGaussians)]

  static let probes: [SIMD2<Double>] = [
    SIMD2(0.3, -0.2), SIMD2(2, 0), SIMD2(-2, 0.1), SIMD2(1, 1), SIMD2(-1.3, 0.7),
    SIMD2(0.9, -2.1), SIMD2(3.5, 2.5), SIMD2(-4, -3), SIMD2(0.01, 0.02), SIMD2(1.05, -1.8),
    SIMD2(2.83, 0.02), SIMD2(-6, 5),
  ]

  /// Rezende & Mohamed 2015, Table 1, written out directly.
  static func referencePotential(_ target: TargetDensity, _ z: SIMD2<Double>) -> Double {
    let w1 = sin(2 * .pi * z.x / 4)
    let w2 = 3 * exp(-0.5 * pow((z.x - 1) / 0.6, 2))
    let w3 = 3 / (1 + exp(-(z.x - 1) / 0.3))
    switch target {
    case .u1:
      return 0.5 * pow((norm(z) - 2) / 0.4, 2)
        - log(exp(-0.5 * pow((z.x - 2) / 0.6, 2)) + exp(-0.5 * pow((z.x + 2) / 0.6, 2)))
    case .u2:
      return 0.5 * pow((z.y - w1) / 0.4, 2)
    case .u3:
      return -log(
        exp(-0.5 * pow((z.y - w1) / 0.35, 2)) + exp(-0.5 * pow((z.y - w1 + w2) / 0.35, 2)))
    case .u4:
      return -log(
        exp(-0.5 * pow((z.y - w1) / 0.4, 2)) + exp(-0.5 * pow((z.y - w1 + w3) / 0.35, 2)))
    case .mixture(let m):
      let total = m.components.reduce(0) { $0 + $1.weight }
      return -log(
        m.components.reduce(0) { sum, c in
          let s2 = c.standardDeviation * c.standardDeviation
          let d = z - c.mean
          return sum + c.weight / total * exp(-(d * d).sum() / (2 * s2)) / (2 * .pi * s2)
        })
    }
  }

  @Test(arguments: targets)
  func valuesMatchTableOne(target: TargetDensity) {
    for z in Self.probes {
      let reference = -Self.referencePotential(target, z)
      guard reference.isFinite else { continue }
      let value = target.logDensityAndGradient(z.x, z.y).value
      #expect(abs(value - reference) <= 1e-9 * max(1, abs(reference)), "z = \(z)")
    }
  }

  @Test(arguments: targets)
  func gradientsMatchCentralDifferences(target: TargetDensity) {
    let h = 1e-5
    for z in Self.probes {
      let (_, g) = target.logDensityAndGradient(z.x, z.y)
      let f = { (p: SIMD2<Double>) in target.logDensityAndGradient(p.x, p.y).value }
      let d1 = (f(z + SIMD2(h, 0)) - f(z - SIMD2(h, 0))) / (2 * h)
      let d2 = (f(z + SIMD2(0, h)) - f(z - SIMD2(0, h))) / (2 * h)
      #expect(abs(g.x - d1) <= 1e-5 * max(1, abs(d1)), "∂/∂z1 at \(z): \(g.x) vs \(d1)")
      #expect(abs(g.y - d2) <= 1e-5 * max(1, abs(d2)), "∂/∂z2 at \(z): \(g.y) vs \(d2)")
    }
  }

  @Test(arguments: targets)
  func batchedEvaluationMatchesPointwiseAndStaysFinite(target: TargetDensity) throws {
    // A grid over [-8, 8]², far beyond the modes.
    var scalars = [Double]()
    for i in 0...40 {
      for j in 0...40 { scalars += [-8 + 0.4 * Double(i), -8 + 0.4 * Double(j)] }
    }
    let z = Tensor<Double>(shape: [scalars.count / 2, 2], scalars: scalars)
    let (values, gradient) = try target.logDensityAndGradient(z)
    #expect(values.shape == [z.shape[0]] && gradient.shape == z.shape)
    #expect(
      values.scalars.allSatisfy { $0.isFinite } && gradient.scalars.allSatisfy { $0.isFinite })
    #expect(try target.logDensity(z) == values)
    for i in stride(from: 0, to: z.shape[0], by: 97) {
      let (v, g) = target.logDensityAndGradient(z[i, 0], z[i, 1])
      #expect(values[i] == v && gradient[i, 0] == g.x && gradient[i, 1] == g.y)
    }
    let zf = z.converted(to: Float.self)
    let (vf, gf) = try target.logDensityAndGradient(zf)
    #expect(vf.scalars.allSatisfy { $0.isFinite } && gf.scalars.allSatisfy { $0.isFinite })
    for i in 0..<z.shape[0] {
      #expect(abs(Double(vf[i]) - values[i]) <= 1e-4 * max(1, abs(values[i])))
    }
  }

  @Test func knownValues() {
    // U₂ = 0 on the sine wave; U₁'s ring at a mode is ≈ 0.
    #expect(TargetDensity.u2.logDensityAndGradient(1.0, 1.0).value == 0)
    #expect(abs(TargetDensity.u1.logDensityAndGradient(2.0, 0.0).value) < 1e-9)
    #expect(TargetDensity.u1.logDensityAndGradient(0.0, 0.0).gradient == SIMD2(0, 0))
  }

  @Test func eightGaussianMixtureIsNormalisedAndMatchesTheToyData() throws {
    let target = TargetDensity.mixture(.eightGaussians)
    var integral = 0.0
    let step = 0.05
    for i in 0..<240 {
      for j in 0..<240 {
        let z1 = -6 + step * (Double(i) + 0.5)
        let z2 = -6 + step * (Double(j) + 0.5)
        integral += exp(target.logDensityAndGradient(z1, z2).value) * step * step
      }
    }
    #expect(abs(integral - 1) < 1e-4)
    // The toy samples' mean log density is minus the mixture's entropy.
    let samples: Tensor<Double> = try ToyDensity.eightGaussians.sample(count: 4000, seed: 5)
    let logLikelihood = try target.logDensity(samples).scalars.reduce(0, +) / 4000
    // Entropy of the mixture ≈ log 8 + 1 + log(2π σ²) with σ = 0.5/1.414.
    let sigma = 0.5 / 1.414
    let expected = -(log(8) + 1 + log(2 * .pi * sigma * sigma))
    #expect(abs(logLikelihood - expected) < 0.06)
  }

  @Test func badArgumentsAreRejected() throws {
    #expect(try TargetDensity(name: "u3") == .u3)
    #expect(try TargetDensity(name: "8gaussians") == .mixture(.eightGaussians))
    #expect(
      throws: DataError.invalidOption(
        name: "target density", value: "u5", allowed: TargetDensity.allowedNames)
    ) {
      try TargetDensity(name: "u5")
    }
    #expect(throws: DataError.invalidOption(name: "z.shape", value: "[4]", allowed: "[B, 2]")) {
      try TargetDensity.u1.logDensity(Tensor<Float>(shape: [4]))
    }
    #expect(throws: DataError.invalidOption(name: "z.shape", value: "[2, 3]", allowed: "[B, 2]")) {
      try TargetDensity.u2.logDensityAndGradient(Tensor<Double>(shape: [2, 3]))
    }
    #expect(throws: DataError.self) { try GaussianMixture(components: []) }
    #expect(throws: DataError.self) {
      try GaussianMixture(components: [.init(mean: SIMD2(0, 0), standardDeviation: 0)])
    }
    #expect(throws: DataError.self) {
      try GaussianMixture(components: [
        .init(mean: SIMD2(0, 0), standardDeviation: 1, weight: -1)
      ])
    }
    #expect(throws: DataError.self) {
      try GaussianMixture(components: [.init(mean: SIMD2(.nan, 0), standardDeviation: 1)])
    }
  }
}
