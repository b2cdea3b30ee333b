import NodeCore
import RealModule

/// An unnormalised target density `p(z) ∝ exp(−U(z))` on R², for fitting a
/// flow by reverse KL, `KL(q ‖ p) = E_q[log q(z) − log p(z)] + const`, the
/// density-matching experiment of Chen et al. 2018 (Figure 4, planar CNF) and
/// FFJORD.
///
/// The four potentials are those of Rezende & Mohamed 2015, "Variational
/// Inference with Normalizing Flows", Table 1, with
/// `w₁(z) = sin(2πz₁/4)`, `w₂(z) = 3 exp(−½((z₁ − 1)/0.6)²)` and
/// `w₃(z) = 3σ((z₁ − 1)/0.3)`, `σ(x) = 1/(1 + e⁻ˣ)`:
///
/// - U₁(z) = ½((‖z‖ − 2)/0.4)² − ln(e^{−½((z₁ − 2)/0.6)²} + e^{−½((z₁ + 2)/0.6)²})
/// - U₂(z) = ½((z₂ − w₁(z))/0.4)²
/// - U₃(z) = −ln(e^{−½((z₂ − w₁(z))/0.35)²} + e^{−½((z₂ − w₁(z) + w₂(z))/0.35)²})
/// - U₄(z) = −ln(e^{−½((z₂ − w₁(z))/0.4)²} + e^{−½((z₂ − w₁(z) + w₃(z))/0.35)²})
///
/// The log of a sum of exponentials is evaluated stably (log-sum-exp), so the
/// values and gradients stay finite far from the modes.
public enum TargetDensity: Sendable, Equatable {
  /// U₁: a ring of radius 2 with two modes at z₁ = ±2.
  case u1
  /// U₂: a sine wave, z₂ ≈ sin(πz₁/2).
  case u2
  /// U₃: the sine wave and a copy shifted down by a bump `w₂` near z₁ = 1.
  case u3
  /// U₄: the sine wave and a copy shifted by the sigmoid step `w₃`.
  case u4
  /// A mixture of isotropic Gaussians (normalised, so `log p` is exact).
  case mixture(GaussianMixture)

  /// The config names accepted by ``init(name:)``.
  public static let allowedNames = "u1, u2, u3, u4, 8gaussians"

  /// The target with config name `name`: `"u1"` … `"u4"`, or `"8gaussians"`
  /// for ``GaussianMixture/eightGaussians`` (the density that
  /// ``ToyDensity/eightGaussians`` samples from).
  ///
  /// - Throws: ``DataError/invalidOption(name:value:allowed:)`` for any other
  ///   name.
  public init(name: String) throws {
    switch name {
    case "u1": self = .u1
    case "u2": self = .u2
    case "u3": self = .u3
    case "u4": self = .u4
    case "8gaussians": self = .mixture(.eightGaussians)
    default:
      throw DataError.invalidOption(name: "target density", value: name, allowed: Self.allowedNames)
    }
  }

  /// `log p(z)` (up to an additive constant, `−U(z)`) and its gradient
  /// `∂ log p/∂z` at one point `z = (z1, z2)`.
  ///
  /// At `z = 0` U₁'s `‖z‖` has no derivative; its term contributes 0 there.
  public func logDensityAndGradient<Scalar: TensorScalar>(
    _ z1: Scalar, _ z2: Scalar
  ) -> (value: Scalar, gradient: SIMD2<Scalar>) {
    switch self {
    case .u1:
      // ½((r − 2)/0.4)²: ∇ = (r − 2)/0.16 · z/r.
      let r = (z1 * z1 + z2 * z2).squareRoot()
      let ring = (r - 2) / Scalar(0.4)
      let ringScale = r > 0 ? (r - 2) / (Scalar(0.16) * r) : 0
      // a, b = −½((z₁ ∓ 2)/0.6)², ∂/∂z₁ = −(z₁ ∓ 2)/0.36.
      let a = -(z1 - 2) * (z1 - 2) / Scalar(0.72)
      let b = -(z1 + 2) * (z1 + 2) / Scalar(0.72)
      let (lse, wa, wb) = Self.logSumExp(a, b)
      let dModes = wa * (-(z1 - 2) / Scalar(0.36)) + wb * (-(z1 + 2) / Scalar(0.36))
      let value = -ring * ring / 2 + lse
      return (value, SIMD2(-ringScale * z1 + dModes, -ringScale * z2))

    case .u2:
      let (w1, dw1) = Self.w1(z1)
      let e = z2 - w1
      let k = e / Scalar(0.16)
      return (-e * e / Scalar(0.32), SIMD2(k * dw1, -k))

    case .u3:
      let (w1, dw1) = Self.w1(z1)
      let (w2, dw2) = Self.w2(z1)
      return Self.twoBranches(
        e1: z2 - w1, de1: -dw1, variance1: Scalar(0.35 * 0.35),
        e2: z2 - w1 + w2, de2: -dw1 + dw2, variance2: Scalar(0.35 * 0.35))

    case .u4:
      let (w1, dw1) = Self.w1(z1)
      let (w3, dw3) = Self.w3(z1)
      return Self.twoBranches(
        e1: z2 - w1, de1: -dw1, variance1: Scalar(0.4 * 0.4),
        e2: z2 - w1 + w3, de2: -dw1 + dw3, variance2: Scalar(0.35 * 0.35))

    case .mixture(let mixture):
      return mixture.logDensityAndGradient(z1, z2)
    }
  }

  /// `log p` at each row of `points` (`[B, 2]`, row-major) into
  /// `logDensity` (`B` elements) and, when given, `∂ log p/∂z` into
  /// `gradient` (`[B, 2]`), without allocating.
  ///
  /// - Precondition: `points.count` is even, `logDensity.count` is
  ///   `points.count / 2`, and `gradient`, if given, has `points.count`
  ///   elements.
  public func evaluate<Scalar: TensorScalar>(
    points: UnsafeBufferPointer<Scalar>,
    logDensity: UnsafeMutableBufferPointer<Scalar>,
    gradient: UnsafeMutableBufferPointer<Scalar>? = nil
  ) {
    precondition(points.count % 2 == 0, "points must be [B, 2], got \(points.count) elements")
    let batch = points.count / 2
    precondition(
      logDensity.count == batch, "logDensity has \(logDensity.count) elements, want \(batch)")
    precondition(
      gradient.map { $0.count == points.count } ?? true,
      "gradient must have \(points.count) elements")
    for i in 0..<batch {
      let (value, g) = logDensityAndGradient(points[2 * i], points[2 * i + 1])
      logDensity[i] = value
      if let gradient {
        gradient[2 * i] = g.x
        gradient[2 * i + 1] = g.y
      }
    }
  }

  /// `log p` at each row of `z` (`[B, 2]`), shape `[B]`.
  ///
  /// - Throws: ``DataError/invalidOption(name:value:allowed:)`` when `z` is
  ///   not of shape `[B, 2]`.
  public func logDensity<Scalar: TensorScalar>(_ z: Tensor<Scalar>) throws -> Tensor<Scalar> {
    try logDensityAndGradient(z, wantGradient: false).logDensity
  }

  /// `log p` at each row of `z` (`[B, 2]`, shape `[B]`) and its gradient
  /// `∂ log p/∂z` (`[B, 2]`).
  ///
  /// - Throws: ``DataError/invalidOption(name:value:allowed:)`` when `z` is
  ///   not of shape `[B, 2]`.
  public func logDensityAndGradient<Scalar: TensorScalar>(
    _ z: Tensor<Scalar>
  ) throws -> (logDensity: Tensor<Scalar>, gradient: Tensor<Scalar>) {
    try logDensityAndGradient(z, wantGradient: true)
  }

  private func logDensityAndGradient<Scalar: TensorScalar>(
    _ z: Tensor<Scalar>, wantGradient: Bool
  ) throws -> (logDensity: Tensor<Scalar>, gradient: Tensor<Scalar>) {
    guard z.rank == 2, z.shape[1] == 2 else {
      throw DataError.invalidOption(name: "z.shape", value: "\(z.shape)", allowed: "[B, 2]")
    }
    let batch = z.shape[0]
    var values = Tensor<Scalar>(shape: [batch])
    var gradient = Tensor<Scalar>(shape: wantGradient ? [batch, 2] : [0])
    z.withUnsafeBufferPointer { points in
      values.withUnsafeMutableBufferPointer { v in
        if wantGradient {
          gradient.withUnsafeMutableBufferPointer { g in
            evaluate(points: points, logDensity: v, gradient: g)
          }
        } else {
          evaluate(points: points, logDensity: v)
        }
      }
    }
    return (values, gradient)
  }

  // MARK: Pieces of Rezende & Mohamed's Table 1

  /// w₁ = sin(2πz₁/4) and its derivative (π/2) cos(2πz₁/4).
  private static func w1<Scalar: TensorScalar>(_ z1: Scalar) -> (Scalar, Scalar) {
    let angle = 2 * Scalar.pi * z1 / 4
    return (Scalar.sin(angle), Scalar.pi / 2 * Scalar.cos(angle))
  }

  /// w₂ = 3 exp(−½((z₁ − 1)/0.6)²) and its derivative −w₂ (z₁ − 1)/0.36.
  private static func w2<Scalar: TensorScalar>(_ z1: Scalar) -> (Scalar, Scalar) {
    let d = z1 - 1
    let w = 3 * Scalar.exp(-d * d / Scalar(0.72))
    return (w, -w * d / Scalar(0.36))
  }

  /// w₃ = 3σ((z₁ − 1)/0.3) and its derivative 3σ(1 − σ)/0.3.
  private static func w3<Scalar: TensorScalar>(_ z1: Scalar) -> (Scalar, Scalar) {
    let s = (z1 - 1) / Scalar(0.3)
    // σ(s) without overflow for either sign of s.
    let sigma: Scalar = s >= 0 ? 1 / (1 + Scalar.exp(-s)) : Scalar.exp(s) / (1 + Scalar.exp(s))
    return (3 * sigma, 3 * sigma * (1 - sigma) / Scalar(0.3))
  }

  /// `log(e^{−e₁²/(2v₁)} + e^{−e₂²/(2v₂)})` and its gradient, where
  /// `∂e₁/∂z = (de1, 1)` and `∂e₂/∂z = (de2, 1)` (U₃ and U₄ are minus the
  /// log of this sum).
  private static func twoBranches<Scalar: TensorScalar>(
    e1: Scalar, de1: Scalar, variance1: Scalar,
    e2: Scalar, de2: Scalar, variance2: Scalar
  ) -> (value: Scalar, gradient: SIMD2<Scalar>) {
    let a = -e1 * e1 / (2 * variance1)
    let b = -e2 * e2 / (2 * variance2)
    let (lse, wa, wb) = logSumExp(a, b)
    // ∂a/∂e₁ = −e₁/v₁, ∂b/∂e₂ = −e₂/v₂.
    let ga = -wa * e1 / variance1
    let gb = -wb * e2 / variance2
    return (lse, SIMD2(ga * de1 + gb * de2, ga + gb))
  }

  /// `log(eᵃ + eᵇ)` and the softmax weights `eᵃ/(eᵃ + eᵇ)`, `eᵇ/(eᵃ + eᵇ)`.
  static func logSumExp<Scalar: TensorScalar>(
    _ a: Scalar, _ b: Scalar
  ) -> (Scalar, Scalar, Scalar) {
    let high = max(a, b)
    let t = Scalar.exp(min(a, b) - high)
    let lse = high + Scalar.log(onePlus: t)
    let wLow = t / (1 + t)
    let wHigh = 1 / (1 + t)
    return a >= b ? (lse, wHigh, wLow) : (lse, wLow, wHigh)
  }
}

/// A mixture of isotropic Gaussians on R², `p(z) = Σₖ πₖ N(z; μₖ, σₖ² I)`,
/// with the weights normalised to sum to 1.
public struct GaussianMixture: Sendable, Equatable {
  /// One component: mean `μ`, standard deviation `σ` (per coordinate) and
  /// unnormalised weight.
  public struct Component: Sendable, Equatable {
    /// The mean `μ`.
    public var mean: SIMD2<Double>
    /// The standard deviation `σ` of each coordinate.
    public var standardDeviation: Double
    /// The weight, before normalisation; must be positive.
    public var weight: Double

    /// Creates a component with mean `mean`, sd `standardDeviation` and weight `weight`.
    public init(mean: SIMD2<Double>, standardDeviation: Double, weight: Double = 1) {
      self.mean = mean
      self.standardDeviation = standardDeviation
      self.weight = weight
    }
  }

  /// The components, weights as given.
  public let components: [Component]
  /// `log πₖ − 2 log σₖ − log 2π` per component (πₖ normalised).
  private let logNormalisers: [Double]

  /// Creates the mixture of `components`.
  ///
  /// - Throws: ``DataError/invalidOption(name:value:allowed:)`` when there are
  ///   no components, or a weight or standard deviation is not positive and
  ///   finite, or a mean is not finite.
  public init(components: [Component]) throws {
    guard !components.isEmpty else {
      throw DataError.invalidOption(
        name: "mixture components", value: "0", allowed: "at least 1")
    }
    for (k, c) in components.enumerated() {
      guard c.weight > 0, c.weight.isFinite else {
        throw DataError.invalidOption(
          name: "mixture component \(k) weight", value: "\(c.weight)", allowed: "> 0, finite")
      }
      guard c.standardDeviation > 0, c.standardDeviation.isFinite else {
        throw DataError.invalidOption(
          name: "mixture component \(k) standard deviation", value: "\(c.standardDeviation)",
          allowed: "> 0, finite")
      }
      guard c.mean.x.isFinite, c.mean.y.isFinite else {
        throw DataError.invalidOption(
          name: "mixture component \(k) mean", value: "\(c.mean)", allowed: "finite")
      }
    }
    self.components = components
    let total = components.reduce(0) { $0 + $1.weight }
    self.logNormalisers = components.map {
      Double.log($0.weight / total) - 2 * Double.log($0.standardDeviation)
        - Double.log(2 * Double.pi)
    }
  }

  /// The density ``ToyDensity/eightGaussians`` samples from (FFJORD
  /// `lib/toy_data.py`): equal weights, means `4 · (cos kπ/4, sin kπ/4) / 1.414`,
  /// sd `0.5 / 1.414`.
  public static let eightGaussians: GaussianMixture = {
    let components = (0..<8).map { k in
      let angle = Double(k) * Double.pi / 4
      return Component(
        mean: 4 * SIMD2(Double.cos(angle), Double.sin(angle)) / 1.414,
        standardDeviation: 0.5 / 1.414)
    }
    // Valid by construction.
    return try! GaussianMixture(components: components)
  }()

  /// `log p(z)` and `∂ log p/∂z = −Σₖ rₖ (z − μₖ)/σₖ²` (responsibilities `rₖ`)
  /// at `z = (z1, z2)`, by log-sum-exp over the components.
  public func logDensityAndGradient<Scalar: TensorScalar>(
    _ z1: Scalar, _ z2: Scalar
  ) -> (value: Scalar, gradient: SIMD2<Scalar>) {
    // Two passes: the largest component log density, then the weighted sums.
    var high = -Scalar.infinity
    for (c, logNormaliser) in zip(components, logNormalisers) {
      high = max(high, Self.componentLog(c, logNormaliser, z1, z2))
    }
    var sum: Scalar = 0
    var g = SIMD2<Scalar>(0, 0)
    for (c, logNormaliser) in zip(components, logNormalisers) {
      let w = Scalar.exp(Self.componentLog(c, logNormaliser, z1, z2) - high)
      let variance = Scalar(c.standardDeviation * c.standardDeviation)
      sum += w
      g.x -= w * (z1 - Scalar(c.mean.x)) / variance
      g.y -= w * (z2 - Scalar(c.mean.y)) / variance
    }
    return (high + Scalar.log(sum), g / sum)
  }

  /// `log πₖ + log N(z; μₖ, σₖ² I)`.
  private static func componentLog<Scalar: TensorScalar>(
    _ c: Component, _ logNormaliser: Double, _ z1: Scalar, _ z2: Scalar
  ) -> Scalar {
    let d1 = z1 - Scalar(c.mean.x)
    let d2 = z2 - Scalar(c.mean.y)
    let variance = Scalar(c.standardDeviation * c.standardDeviation)
    return Scalar(logNormaliser) - (d1 * d1 + d2 * d2) / (2 * variance)
  }
}
