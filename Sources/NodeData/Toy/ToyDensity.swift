import NodeCore
import RealModule

/// The two-dimensional toy data sets of FFJORD (Grathwohl, Chen et al., ICLR
/// 2019), generated on the fly.
///
/// The shapes, scales and noise levels are those of FFJORD's
/// `lib/toy_data.py` (`inf_train_gen`), which in turn calls scikit-learn's
/// `make_moons`, `make_circles` and `make_swiss_roll` for three of them. The raw
/// values are the names FFJORD uses, so a config can say `data: 8gaussians`.
///
/// Unlike FFJORD, every sample is drawn independently from its own address:
/// sample `g` (a global sample index) is a pure function of `(seed, g)`, see
/// ``sample(count:seed:offset:as:)``. Where FFJORD lays points out on a grid
/// (`np.linspace` angles in moons, circles and rings) or deals equal counts to
/// the components (pinwheel, rings, 2spirals) and shuffles, this picks the
/// angle uniformly and the component uniformly at random — the same density,
/// without any dependence on the batch a point lands in.
public enum ToyDensity: String, CaseIterable, Sendable, Codable {
  /// Two interleaving half circles (workload W1). scikit-learn `make_moons`
  /// with `noise = 0.1`: with `t` uniform in `[0, π]`, the outer moon is
  /// `(cos t, sin t)` and the inner one `(1 − cos t, 1 − sin t − 0.5)`, each
  /// point picked from either with probability ½, plus `N(0, 0.1²)` noise
  /// on each coordinate; then scaled by 2 and shifted by `(−1, −0.2)`.
  /// Mean `(0, 0.3)`.
  case moons
  /// Two concentric circles: scikit-learn `make_circles(factor: 0.5,
  /// noise: 0.08)` scaled by 3 — radii 3 and 1.5, noise sd 0.24 after
  /// scaling.
  case circles
  /// Eight Gaussians with sd `0.5 / 1.414` at radius `4 / 1.414` (≈ 2√2) in
  /// the directions `kπ/4`, equally weighted.
  case eightGaussians = "8gaussians"
  /// Five curved arms: radial coordinate `1 + 0.3 ε₁`, tangential `0.1 ε₂`,
  /// rotated by `2πk/5 + 0.25 exp(radial)`, scaled by 2.
  case pinwheel
  /// scikit-learn `make_swiss_roll(noise: 1.0)`, coordinates `(x, z)` only:
  /// `(t cos t, t sin t) + N(0, I)` with `t = 1.5π (1 + 2u)`, divided by 5.
  case swissroll
  /// Two interleaved spirals of three half turns (540°), offset by
  /// `0.5 · U(0, 1)` per coordinate, divided by 3, plus `N(0, 0.1²)` noise.
  case twoSpirals = "2spirals"
  /// Uniform on the eight "black" squares of side 2 of a 4 × 4 checkerboard on
  /// `[−4, 4]²`: those with `⌊z₁/2⌋ + ⌊z₂/2⌋` even.
  case checkerboard
  /// Four concentric rings of radii 3, 2.25, 1.5 and 0.75, equally likely,
  /// with `N(0, 0.08²)` noise per coordinate.
  case rings

  /// Random streams of the draws, relative to ``streamBase``. Each sample
  /// takes the words of one Philox block in each stream.
  enum Stream {
    /// Uniform `Double` draws: sample `g` uses indices `4g ..< 4g + 4`
    /// (two blocks).
    static let uniform: UInt64 = 0
    /// Standard normal draws: sample `g` uses indices `2g` and `2g + 1` (one
    /// Box–Muller pair, one block).
    static let normal: UInt64 = 1
  }

  /// The first ``CounterRandom`` stream that toy data draws from (the ASCII
  /// bytes "ToyD" in the high half), so that toy data never shares a stream
  /// with other consumers of the same seed that count their streams from 0
  /// (initialisation, Hutchinson noise).
  ///
  /// Stream layout, for the sample at global index `g`:
  /// - stream `streamBase + 0`: uniform `Double` draws at indices `4g + k`,
  ///   `k = 0 ..< 4` (`u₀ … u₃`); `u₃` always picks the component (moon,
  ///   circle, Gaussian, arm, spiral, checkerboard row pair, ring);
  /// - stream `streamBase + 1`: standard normal draws at indices `2g` and
  ///   `2g + 1` (`ε₁`, `ε₂`).
  public static let streamBase: UInt64 = 0x546F_7944_0000_0000

  /// The largest global sample index, exclusive: `4g + 3` must fit the
  /// 64-bit counter.
  public static let indexLimit = Int(UInt64.max / 4)

  /// The data set with the config name `name` (a raw value).
  ///
  /// - Throws: ``DataError/invalidOption(name:value:allowed:)`` naming the
  ///   allowed names when `name` is not one of them.
  public init(name: String) throws {
    guard let density = ToyDensity(rawValue: name) else {
      throw DataError.invalidOption(
        name: "toy density", value: name, allowed: Self.allowedNames)
    }
    self = density
  }

  /// The config names, comma-separated, for error messages.
  public static var allowedNames: String {
    allCases.map(\.rawValue).joined(separator: ", ")
  }

  /// The sample at global index `index` for `seed`, in `Double`.
  ///
  /// This is the single definition every batch is built from: every
  /// precision and every batch split sees exactly these values (`Float`
  /// samples are these rounded).
  ///
  /// - Precondition: `0 ≤ index < ` ``indexLimit``.
  public func point(seed: UInt64, index: Int) -> SIMD2<Double> {
    precondition(index >= 0 && index < Self.indexLimit, "toy sample index \(index) out of range")
    let random = CounterRandom(seed: seed)
    let g = UInt64(index)
    let uniformStream = Self.streamBase &+ Stream.uniform
    let normalStream = Self.streamBase &+ Stream.normal
    let u0: Double = random.uniform(stream: uniformStream, index: 4 &* g)
    let u1: Double = random.uniform(stream: uniformStream, index: 4 &* g &+ 1)
    let u2: Double = random.uniform(stream: uniformStream, index: 4 &* g &+ 2)
    let u3: Double = random.uniform(stream: uniformStream, index: 4 &* g &+ 3)
    let e1: Double = random.normal(stream: normalStream, index: 2 &* g)
    let e2: Double = random.normal(stream: normalStream, index: 2 &* g &+ 1)
    return generate(u0: u0, u1: u1, u2: u2, u3: u3, e1: e1, e2: e2)
  }

  /// `count` samples at global indices `offset ..< offset + count`, as a
  /// `[count, 2]` tensor.
  ///
  /// Row `i` is ``point(seed:index:)`` at `offset + i`, rounded to `Scalar`:
  /// it depends only on `(seed, offset + i)`. Iteration `k` of a run with
  /// global batch `B` takes `offset = k · B`; a rank that holds rows
  /// `s ..< e` of that batch asks for `count: e − s, offset: k · B + s` and
  /// gets exactly those rows of the whole batch.
  ///
  /// - Throws: ``DataError/invalidOption(name:value:allowed:)`` when `count`
  ///   or `offset` is negative or `offset + count` exceeds ``indexLimit``.
  public func sample<Scalar: TensorScalar>(
    count: Int, seed: UInt64, offset: Int = 0, as _: Scalar.Type = Scalar.self
  ) throws -> Tensor<Scalar> {
    try Self.validate(count: count, offset: offset)
    var result = Tensor<Scalar>(shape: [count, 2])
    result.withUnsafeMutableBufferPointer { buffer in
      fillUnchecked(buffer, count: count, seed: seed, offset: offset)
    }
    return result
  }

  /// Writes `buffer.count / 2` samples, row-major `[n, 2]`, at global
  /// indices `offset ..< offset + n` into `buffer` without allocating; the
  /// values are those of ``sample(count:seed:offset:as:)``.
  ///
  /// - Throws: ``DataError/invalidOption(name:value:allowed:)`` when
  ///   `buffer.count` is odd, `offset` is negative or the indices exceed
  ///   ``indexLimit``.
  public func fill<Scalar: TensorScalar>(
    _ buffer: UnsafeMutableBufferPointer<Scalar>, seed: UInt64, offset: Int = 0
  ) throws {
    guard buffer.count % 2 == 0 else {
      throw DataError.invalidOption(
        name: "toy buffer count", value: "\(buffer.count)", allowed: "a multiple of 2")
    }
    let count = buffer.count / 2
    try Self.validate(count: count, offset: offset)
    fillUnchecked(buffer, count: count, seed: seed, offset: offset)
  }

  private func fillUnchecked<Scalar: TensorScalar>(
    _ buffer: UnsafeMutableBufferPointer<Scalar>, count: Int, seed: UInt64, offset: Int
  ) {
    for i in 0..<count {
      let p = point(seed: seed, index: offset + i)
      buffer[2 * i] = Scalar(p.x)
      buffer[2 * i + 1] = Scalar(p.y)
    }
  }

  private static func validate(count: Int, offset: Int) throws {
    guard count >= 0 else {
      throw DataError.invalidOption(name: "toy sample count", value: "\(count)", allowed: "≥ 0")
    }
    guard offset >= 0 else {
      throw DataError.invalidOption(
        name: "toy sample offset", value: "\(offset)", allowed: "≥ 0")
    }
    guard offset <= indexLimit - count else {
      throw DataError.invalidOption(
        name: "toy sample offset", value: "\(offset)",
        allowed: "offset + count ≤ \(indexLimit) (count = \(count))")
    }
  }

  /// One point from its draws: uniforms `u0 … u3` in (0, 1) (`u3` picks the
  /// component) and standard normals `e1`, `e2`. Constants from FFJORD
  /// `lib/toy_data.py` and scikit-learn `datasets/_samples_generator.py`.
  private func generate(
    u0: Double, u1: Double, u2: Double, u3: Double, e1: Double, e2: Double
  ) -> SIMD2<Double> {
    switch self {
    case .moons:
      // make_moons(noise: 0.1), then `data * 2 + [-1, -0.2]`.
      let t = Double.pi * u0
      let base =
        u3 < 0.5
        ? SIMD2(Double.cos(t), Double.sin(t))
        : SIMD2(1 - Double.cos(t), 1 - Double.sin(t) - 0.5)
      return (base + 0.1 * SIMD2(e1, e2)) * 2 + SIMD2(-1, -0.2)

    case .circles:
      // make_circles(factor: 0.5, noise: 0.08), then `data *= 3`.
      let angle = 2 * Double.pi * u0
      let radius = u3 < 0.5 ? 1.0 : 0.5
      return (radius * SIMD2(Double.cos(angle), Double.sin(angle)) + 0.08 * SIMD2(e1, e2)) * 3

    case .eightGaussians:
      // `(randn(2) * 0.5 + 4 * centre) / 1.414`, centre one of 8 unit vectors.
      let centre = 4 * Self.eightDirections[Self.component(u3, of: 8)]
      return (0.5 * SIMD2(e1, e2) + centre) / 1.414

    case .pinwheel:
      // radial_std 0.3, tangential_std 0.1, 5 classes, rate 0.25; the
      // einsum "ti,tij->tj" with R = [[cos, −sin], [sin, cos]] is fᵀR.
      let k = Self.component(u3, of: 5)
      let radial = 1 + 0.3 * e1
      let tangential = 0.1 * e2
      let angle = 2 * Double.pi * Double(k) / 5 + 0.25 * Double.exp(radial)
      let c = Double.cos(angle)
      let s = Double.sin(angle)
      return 2 * SIMD2(radial * c + tangential * s, -radial * s + tangential * c)

    case .swissroll:
      // make_swiss_roll(noise: 1.0)[:, [0, 2]] / 5.
      let t = 1.5 * Double.pi * (1 + 2 * u0)
      return (SIMD2(t * Double.cos(t), t * Double.sin(t)) + SIMD2(e1, e2)) / 5

    case .twoSpirals:
      // n = sqrt(u) · 540° in radians; d = (−cos n · n + 0.5u, sin n · n + 0.5u);
      // the second spiral is −d; all / 3, plus randn · 0.1.
      let n = u0.squareRoot() * 540 * (2 * Double.pi) / 360
      let d = SIMD2(-Double.cos(n) * n + 0.5 * u1, Double.sin(n) * n + 0.5 * u2)
      let sign: Double = u3 < 0.5 ? 1 : -1
      return sign * d / 3 + 0.1 * SIMD2(e1, e2)

    case .checkerboard:
      // x1 = 4u − 2; x2 = u − 2·randint(0, 2) + (floor(x1) mod 2); all · 2.
      let x1 = 4 * u0 - 2
      let row: Double = u3 < 0.5 ? 0 : 2
      let parity = Self.pythonModulo(x1.rounded(.down), 2)
      return 2 * SIMD2(x1, u1 - row + parity)

    case .rings:
      // Radii 1, 0.75, 0.5, 0.25, scaled by 3, then `+ normal(scale: 0.08)`.
      let radius = 3 * Double(4 - Self.component(u3, of: 4)) / 4
      let angle = 2 * Double.pi * u0
      return radius * SIMD2(Double.cos(angle), Double.sin(angle)) + 0.08 * SIMD2(e1, e2)
    }
  }

  /// FFJORD's eight centre directions, in its order: ±x, ±y, then the diagonals.
  private static let eightDirections: [SIMD2<Double>] = {
    let h = 1 / Double(2).squareRoot()
    return [
      SIMD2(1, 0), SIMD2(-1, 0), SIMD2(0, 1), SIMD2(0, -1),
      SIMD2(h, h), SIMD2(h, -h), SIMD2(-h, h), SIMD2(-h, -h),
    ]
  }()

  /// `⌊n·u⌋` clamped to `n − 1` (a `Double` draw may round up to 1).
  private static func component(_ u: Double, of n: Int) -> Int {
    min(Int(u * Double(n)), n - 1)
  }

  /// Python's float `%`: the result has the sign of the divisor.
  private static func pythonModulo(_ x: Double, _ m: Double) -> Double {
    let r = x.truncatingRemainder(dividingBy: m)
    return r < 0 ? r + m : r
  }
}
