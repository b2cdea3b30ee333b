/// An explicit Runge–Kutta method as data: its Butcher tableau, its embedded
/// error estimator and its dense-output polynomials.
///
/// One generic stepping engine runs every method; a method is nothing but
/// these numbers. With stages `k_i = f(t + c_i h, y + h Σ_{j<i} a_ij k_j)`:
/// - the step is `y₁ = y + h Σ b_i k_i`;
/// - the local error estimate is `h Σ e_i k_i` with `e = b − b̂`, the
///   difference to the embedded lower-order weights (nil for fixed-step methods);
///   DOP853 blends two such estimates (``thirdOrderErrorWeights``);
/// - the continuous extension is `y(t + θh) = y + h Σ b_i(θ) k_i`, each
///   `b_i(θ) = Σ_m interpolant[i][m-1] θ^m` a polynomial with `b_i(1) = b_i`.
///   Its sum may run over extra *dense stages*, evaluated after a step only
///   where an output time falls inside it (DOP853's seventh-order interpolant).
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
  /// A second, third-order error estimate blended with the first as in Hairer's
  /// DOP853: with `S₅` and `S₃` the sums of squared scaled errors of the two
  /// estimates, the error ratio is `S₅ / √(n (S₅ + 0.01 S₃))`. Nil for the usual
  /// RMS of one estimate.
  public let thirdOrderErrorWeights: [Double]?
  /// The order of the solution `y₁`.
  public let order: Int
  /// The order of the embedded solution `ŷ₁` (nil without an error estimate).
  public let embeddedOrder: Int?
  /// The nodes of the dense stages, evaluated only for dense output.
  public let denseStageNodes: [Double]
  /// The coupling of the dense stages: row `j` holds `stageCount + j` coefficients
  /// over the step's stages and the dense stages before it.
  public let denseStageCoupling: [[Double]]
  /// The dense-output polynomials, one per stage then one per dense stage:
  /// `interpolant[i][m-1]` is the coefficient of `θ^m` in `b_i(θ)`.
  public let interpolant: [[Double]]
  /// The order of the dense output.
  public let interpolantOrder: Int

  /// Creates and checks a tableau.
  ///
  /// - Precondition: the tableau is consistent: `Σ_j a_ij = c_i` (dense
  ///   stages too), `Σ b_i = 1`, `Σ e_i = 0`, and `b_i(1) = b_i` for the dense
  ///   output (`0` for dense stages), to 1e-12 (1e-10 for the interpolant).
  public init(
    name: String, nodes: [Double], coupling: [[Double]], weights: [Double],
    errorWeights: [Double]?, thirdOrderErrorWeights: [Double]? = nil,
    order: Int, embeddedOrder: Int?,
    denseStageNodes: [Double] = [], denseStageCoupling: [[Double]] = [],
    interpolant: [[Double]], interpolantOrder: Int
  ) {
    let stages = nodes.count
    precondition(stages >= 1 && weights.count == stages && coupling.count == stages)
    precondition(denseStageNodes.count == denseStageCoupling.count)
    precondition(
      interpolant.count == stages + denseStageNodes.count,
      "\(name): one interpolant polynomial per stage and dense stage")
    precondition((errorWeights == nil) == (embeddedOrder == nil))
    let allCoupling = coupling + denseStageCoupling
    let allNodes = nodes + denseStageNodes
    for (i, row) in allCoupling.enumerated() {
      precondition(row.count == i, "\(name): coupling row \(i) must have \(i) entries")
      precondition(
        abs(row.reduce(0, +) - allNodes[i]) < 1e-12, "\(name): row \(i) does not sum to c_\(i)")
    }
    precondition(abs(weights.reduce(0, +) - 1) < 1e-12, "\(name): weights do not sum to 1")
    for estimate in [errorWeights, thirdOrderErrorWeights].compactMap({ $0 }) {
      precondition(estimate.count == stages && abs(estimate.reduce(0, +)) < 1e-12)
    }
    precondition(thirdOrderErrorWeights == nil || errorWeights != nil)
    let allWeights = weights + denseStageNodes.map { _ in 0.0 }
    for (i, polynomial) in interpolant.enumerated() {
      precondition(
        abs(polynomial.reduce(0, +) - allWeights[i]) < 1e-10,
        "\(name): interpolant of stage \(i) does not reach b_\(i) at θ = 1")
    }
    self.name = name
    self.nodes = nodes
    self.coupling = coupling
    self.weights = weights
    self.errorWeights = errorWeights
    self.thirdOrderErrorWeights = thirdOrderErrorWeights
    self.order = order
    self.embeddedOrder = embeddedOrder
    self.denseStageNodes = denseStageNodes
    self.denseStageCoupling = denseStageCoupling
    self.interpolant = interpolant
    self.interpolantOrder = interpolantOrder
    let last = stages - 1
    isFirstSameAsLast =
      last > 0 && nodes[last] == 1 && weights[last] == 0
      && coupling[last] == Array(weights[0..<last])
  }

  /// The number of stages of a step.
  public var stageCount: Int { nodes.count }

  /// The number of stages including the dense stages.
  public var totalStageCount: Int { nodes.count + denseStageNodes.count }

  /// Whether the method has an error estimate, so it can adapt its step size.
  public var isAdaptive: Bool { errorWeights != nil }

  /// "First same as last": the last stage is evaluated at `(t + h, y₁)`, so
  /// it is the first stage of the next step and a step costs one evaluation less.
  public let isFirstSameAsLast: Bool

  /// The exponent denominator of the step-size controller, `q + 1` with `q`
  /// the order of the error estimate (the lower of the two orders).
  public var controllerOrder: Int { min(order, embeddedOrder ?? order) + 1 }

  public var description: String {
    if thirdOrderErrorWeights != nil { return "\(name) (\(order)(5,3), \(stageCount) stages)" }
    if let embeddedOrder { return "\(name) (\(order)(\(embeddedOrder)), \(stageCount) stages)" }
    return "\(name) (order \(order), \(stageCount) stages)"
  }
}
