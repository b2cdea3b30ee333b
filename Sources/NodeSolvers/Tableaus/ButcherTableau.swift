/// An explicit Runge–Kutta method as data: its Butcher tableau, its embedded
/// error estimator and its dense-output polynomials.
///
/// One generic stepping engine runs every method; a method is nothing but
/// these numbers. With stages `k_i = f(t + c_i h, y + h Σ_{j<i} a_ij k_j)`:
/// - the step is `y₁ = y + h Σ b_i k_i`;
/// - the local error estimate is `h Σ e_i k_i` with `e = b − b̂`, the
///   difference to the embedded lower-order weights (nil for fixed-step methods);
/// - the continuous extension is `y(t + θh) = y + h Σ b_i(θ) k_i`, each
///   `b_i(θ) = Σ_m interpolant[i][m-1] θ^m` a polynomial with `b_i(1) = b_i`.
///
/// Coefficients are stored in `Double` and rounded once to the working precision.
public struct ButcherTableau: Sendable, Hashable, CustomStringConvertible {
  /// The short name used on the command line and in configs, e.g. `"dopri5"`.
  public let name: String
  /// The stage nodes `c_i` (`c_0 = 0`).
  public let nodes: [Double]
  /// The strictly lower-triangular stage coefficients: `coupling[i]` holds `a_i0 … a_i(i-1)`.
  public let coupling: [[Double]]
  /// The solution weights `b_i`.
  public let weights: [Double]
  /// The error weights `e_i = b_i − b̂_i`, or nil for a method without an error estimate.
  public let errorWeights: [Double]?
  /// The order of the solution `y₁`.
  public let order: Int
  /// The order of the embedded solution `ŷ₁` (nil without an error estimate).
  public let embeddedOrder: Int?
  /// The dense-output polynomials: `interpolant[i][m-1]` is the coefficient of `θ^m` in `b_i(θ)`.
  public let interpolant: [[Double]]
  /// The order of the dense output.
  public let interpolantOrder: Int

  /// Creates and checks a tableau.
  ///
  /// - Precondition: the tableau is consistent: `Σ_j a_ij = c_i`, `Σ b_i = 1`,
  ///   `Σ e_i = 0`, and `b_i(1) = b_i` for the dense output (to 1e-12).
  public init(
    name: String, nodes: [Double], coupling: [[Double]], weights: [Double],
    errorWeights: [Double]?, order: Int, embeddedOrder: Int?,
    interpolant: [[Double]], interpolantOrder: Int
  ) {
    let stages = nodes.count
    precondition(stages >= 1 && weights.count == stages && coupling.count == stages)
    precondition(interpolant.count == stages, "\(name): one interpolant polynomial per stage")
    precondition((errorWeights == nil) == (embeddedOrder == nil))
    for (i, row) in coupling.enumerated() {
      precondition(row.count == i, "\(name): coupling row \(i) must have \(i) entries")
      precondition(
        abs(row.reduce(0, +) - nodes[i]) < 1e-12, "\(name): row \(i) does not sum to c_\(i)")
    }
    precondition(abs(weights.reduce(0, +) - 1) < 1e-12, "\(name): weights do not sum to 1")
    if let errorWeights {
      precondition(errorWeights.count == stages && abs(errorWeights.reduce(0, +)) < 1e-12)
    }
    for (i, polynomial) in interpolant.enumerated() {
      precondition(
        abs(polynomial.reduce(0, +) - weights[i]) < 1e-12,
        "\(name): interpolant of stage \(i) does not reach b_\(i) at θ = 1")
    }
    self.name = name
    self.nodes = nodes
    self.coupling = coupling
    self.weights = weights
    self.errorWeights = errorWeights
    self.order = order
    self.embeddedOrder = embeddedOrder
    self.interpolant = interpolant
    self.interpolantOrder = interpolantOrder
    let last = stages - 1
    isFirstSameAsLast =
      last > 0 && nodes[last] == 1 && weights[last] == 0
      && coupling[last] == Array(weights[0..<last])
  }

  /// The number of stages.
  public var stageCount: Int { nodes.count }

  /// Whether the method has an error estimate, so it can adapt its step size.
  public var isAdaptive: Bool { errorWeights != nil }

  /// "First same as last": the last stage is evaluated at `(t + h, y₁)`, so
  /// it is the first stage of the next step and a step costs one evaluation less.
  public let isFirstSameAsLast: Bool

  /// The exponent denominator of the step-size controller, `q + 1` with `q`
  /// the order of the error estimate (the lower of the two orders).
  public var controllerOrder: Int { min(order, embeddedOrder ?? order) + 1 }

  public var description: String {
    if let embeddedOrder { return "\(name) (\(order)(\(embeddedOrder)), \(stageCount) stages)" }
    return "\(name) (order \(order), \(stageCount) stages)"
  }
}
